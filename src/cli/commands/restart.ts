import type { Command } from '../command.js';
import { stopLike } from './stop.js';

export const command: Command = stopLike('restart', 'Restart one or more containers');

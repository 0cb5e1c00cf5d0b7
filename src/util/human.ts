/**
 * Human-readable durations and sizes as Docker prints them (go-units' HumanDuration and
 * HumanSize), shared by the engine (container status strings) and the CLI (columns).
 */

/** "Less than a second", "3 seconds", "About a minute", "5 minutes", "About an hour", ... */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

const decimalUnits = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/**
 * Decimal sizes with `precision` significant digits at most: "4.26MB", "0B", "1.5kB". The
 * docker CLI prints image and container sizes with 3, go-units' HumanSize uses 4.
 */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < decimalUnits.length - 1) {
    size /= 1000;
    i++;
  }
  return `${formatSignificant(size, precision)}${decimalUnits[i]}`;
}

/** Go's %.4g-like formatting: at most `digits` significant digits, no trailing zeros. */
function formatSignificant(n: number, digits: number): string {
  if (n === 0) return '0';
  const s = n.toPrecision(digits);
  return s.includes('e') ? String(Number(s)) : s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

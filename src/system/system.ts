/**
 * Engine-wide facts for `/info`, `/version` and `/system/df`, put together by the daemon from
 * the services.
 */
export interface SystemService {
  /** The body of `GET /version`. */
  version(): Record<string, unknown>;
  /** The body of `GET /info`. */
  info(): Promise<Record<string, unknown>>;
  /** The body of `GET /system/df`. */
  df(): Promise<Record<string, unknown>>;
}

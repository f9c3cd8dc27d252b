/**
 * Watches the config file's directory, not the file: Kubernetes updates a mounted ConfigMap by
 * swapping the `..data` symlink, which a watch on the file itself would miss. Only events about the
 * config file itself or the `..data` swap count — a log file or editor swap file in the same
 * directory must not trigger reloads. Events are debounced; a slow timer re-checks the source as a
 * safety net (watches can be lost) and to pick up rotated key files.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Timers } from '../../common/clock.ts';

export interface FileWatcherOptions {
  /** The config file; without one only the periodic re-check runs. */
  readonly path: string | undefined;
  readonly timers: Timers;
  readonly onChange: (trigger: 'file' | 'timer') => void;
  readonly debounceMs?: number;
  readonly recheckMs?: number;
}

/** Whether a directory event names something that can change the config file's content. */
export function isConfigEvent(configPath: string, filename: string | null): boolean {
  // Some platforms give no name: assume the worst.
  if (filename === null) return true;
  return filename === basename(configPath) || filename === '..data';
}

export class ConfigFileWatcher {
  readonly #options: FileWatcherOptions;
  #watcher: FSWatcher | undefined;
  #debounce: unknown;
  #recheck: unknown;
  #stopped = false;

  constructor(options: FileWatcherOptions) {
    this.#options = options;
  }

  start(): void {
    const path = this.#options.path;
    if (path !== undefined) {
      try {
        this.#watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
          if (isConfigEvent(path, filename)) this.#changed();
        });
        this.#watcher.on('error', () => undefined); // the timer re-check still covers us
      } catch {
        this.#watcher = undefined;
      }
    }
    this.#scheduleRecheck();
  }

  #changed(): void {
    if (this.#stopped) return;
    this.#options.timers.clearTimeout(this.#debounce);
    this.#debounce = this.#options.timers.setTimeout(
      () => this.#options.onChange('file'),
      this.#options.debounceMs ?? 100,
    );
  }

  #scheduleRecheck(): void {
    if (this.#stopped) return;
    const recheckMs = this.#options.recheckMs ?? 30_000;
    if (recheckMs <= 0) return;
    this.#recheck = this.#options.timers.setTimeout(() => {
      this.#options.onChange('timer');
      this.#scheduleRecheck();
    }, recheckMs);
  }

  stop(): void {
    this.#stopped = true;
    this.#watcher?.close();
    this.#options.timers.clearTimeout(this.#debounce);
    this.#options.timers.clearTimeout(this.#recheck);
  }
}

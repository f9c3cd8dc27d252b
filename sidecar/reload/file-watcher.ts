/**
 * Watches the config file's directory, not the file: Kubernetes updates a mounted ConfigMap by
 * swapping the `..data` symlink, which a watch on the file itself would miss. Events are debounced;
 * a slow timer re-checks the content hash as a safety net (watches can be lost).
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Timers } from '../util/clock.ts';

export interface FileWatcherOptions {
  readonly path: string;
  readonly timers: Timers;
  readonly onChange: (trigger: 'file' | 'timer') => void;
  readonly debounceMs?: number;
  readonly recheckMs?: number;
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
    try {
      this.#watcher = watch(dirname(this.#options.path), { persistent: false }, () => this.#changed());
      this.#watcher.on('error', () => undefined); // the timer re-check still covers us
    } catch {
      this.#watcher = undefined;
    }
    this.#scheduleRecheck();
  }

  #changed(): void {
    if (this.#stopped) return;
    this.#options.timers.clearTimeout(this.#debounce);
    this.#debounce = this.#options.timers.setTimeout(() => this.#options.onChange('file'), this.#options.debounceMs ?? 100);
  }

  #scheduleRecheck(): void {
    if (this.#stopped) return;
    this.#recheck = this.#options.timers.setTimeout(() => {
      this.#options.onChange('timer');
      this.#scheduleRecheck();
    }, this.#options.recheckMs ?? 30_000);
  }

  stop(): void {
    this.#stopped = true;
    this.#watcher?.close();
    this.#options.timers.clearTimeout(this.#debounce);
    this.#options.timers.clearTimeout(this.#recheck);
  }
}

// exec: every successful execve/execveat (bpf/exec.bpf.c) through a ring buffer → counters by executable and
// parent, the optional JSON-lines exec log, and the optional exec handler.
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { ExecCollector, KernelExecSource } from '../collector/exec.ts';
import { ExecSeriesShaper } from '../collector/series.ts';
import { UserError } from '../errors.ts';
import { checkExecHandler, ExecHandler } from '../exec-handler.ts';
import { ExecLog, isStdout } from '../exec-log.ts';
import type { ProgramDescriptor } from './types.ts';

export const exec: ProgramDescriptor<'exec'> = {
  name: 'exec',
  summary: 'every successful execve/execveat, by executable and parent executable',
  objects: ['exec.bpf.o'],
  minKernel: [5, 8],
  minKernelReason: 'BPF ring buffer',
  capabilities: ['CAP_BPF', 'CAP_PERFMON'],
  tracefs: true,
  preflight(config) {
    if (config.execHandler !== undefined) checkExecHandler(config.execHandler);
    if (config.execLog !== undefined && !isStdout(config.execLog)) {
      try {
        accessSync(path.dirname(path.resolve(config.execLog)), fsConstants.W_OK);
      } catch {
        throw new UserError(`--exec-log ${config.execLog}: its directory does not exist or is not writable`);
      }
    }
  },
  start({ config, open, clock, attribute, logger, events }) {
    const collector = new ExecCollector(() => clock.now());
    const shaper = new ExecSeriesShaper(
      config.maxSeries,
      config.exitedRetentionMs,
      config.scrapeIntervalMs + config.intervalMs,
    );
    let log: ExecLog | undefined;
    let handler: ExecHandler | undefined;
    try {
      if (config.execLog !== undefined) {
        const execLog = new ExecLog(config.execLog, {
          attribute: (event) => attribute?.(event.cgroupId, event.pid) ?? {},
          logger,
        });
        log = execLog;
        collector.subscribe((event) => execLog.write(event));
      }
      if (events !== undefined) {
        collector.subscribe((event) =>
          events({
            name: 'process.exec',
            timeNs: event.timeNs,
            event,
            attribution: attribute?.(event.cgroupId, event.pid) ?? {},
          }),
        );
      }
      if (config.execHandler !== undefined) {
        const execHandler = new ExecHandler({
          path: config.execHandler,
          concurrency: config.execHandlerConcurrency,
          ratePerSecond: config.execHandlerRate,
          burst: config.execHandlerBurst,
          timeoutMs: config.execHandlerTimeoutMs,
          filterComm: config.execFilterComm,
          filterUids: config.execFilterUids,
          logger,
        });
        handler = execHandler;
        collector.subscribe((event) => execHandler.handle(event));
      }
      const source = new KernelExecSource(
        {
          ...open('exec.bpf.o'),
          ringBytes: config.execRingBytes,
          onlyUid: config.execOnlyUid,
        },
        (event) => collector.onEvent(event),
      );
      collector.use(source);
      return {
        collector,
        objects: [source.object],
        collect(now, snapshot) {
          snapshot.exec = shaper.shape(collector.collect(now).execs, now);
          if (handler !== undefined) snapshot.execHandler = handler.stats();
          if (log !== undefined) snapshot.execLog = log.stats();
        },
        reopenLogs: () => log?.reopen(),
        close: async () => {
          collector.close();
          await Promise.all([handler?.stop(), log?.close()]);
        },
      };
    } catch (error) {
      void handler?.stop();
      void log?.close();
      throw error;
    }
  },
};

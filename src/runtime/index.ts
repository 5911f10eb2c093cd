export type {
  Address,
  LimitName,
  LogChunk,
  LogStream,
  Program,
  ResourceLimits,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
} from './driver.js';
export { JobGroups } from './job-groups.js';
export { type LogLevel, type ParsedLogLine, parseLogLine } from './log-line.js';
export { LogTail } from './log-tail.js';
export { readProcStartTime } from './proc.js';
export { ProcessDriver } from './process-driver.js';
export { type RunOnceOptions, type RunOnceResult, runOnce } from './run-once.js';
export {
  accountFiles,
  findSystemTool,
  probeSandbox,
  type Sandbox,
  type SandboxDecision,
  type SandboxHost,
  type SandboxJob,
  type SandboxMode,
  type SandboxUser,
  sandboxArgv,
  sandboxDecision,
  sandboxEnv,
  userCache,
  userHome,
  userName,
  userTmp,
  visiblePath,
} from './sandbox.js';
export { stopGroup } from './stop-group.js';
export {
  backoffMs,
  decideRestart,
  describeExit,
  type LogOffsets,
  type RestartDecision,
  type RestartPlan,
  type RestartPolicy,
  type RestartPolicyType,
  Supervisor,
  type WorkloadHooks,
} from './supervisor.js';
export type { ExitInfo, ProcessHandle } from './types.js';

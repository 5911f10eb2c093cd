import { describe, expect, it } from 'vitest';
import {
  CGROUP_ENTER_SCRIPT,
  cgroupEnterArgv,
  cgroupName,
  cgroupPlan,
  detectCgroups,
  parseCpuUsageNs,
  parseOomKills,
  placementProcs,
} from '../../src/runtime/cgroups.js';
import { processArgv } from '../../src/runtime/process-argv.js';
import { ProcessDriver } from '../../src/runtime/process-driver.js';

/** This machine's kind of host: cgroup v1 per controller (cpu and cpuacct apart), v2 mounted without controllers. */
const V1_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V1_SELF = `9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
`;

/** A systemd host on the unified hierarchy, the daemon in its service's cgroup. */
const V2_MOUNTINFO = `30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`;
const V2_SELF = '0::/system.slice/berth.service\n';

describe('cgroup layouts', () => {
  it('v1: a berth/ cgroup under the daemon’s own in each controller’s hierarchy; an empty v2 is passed over', () => {
    const layout = detectCgroups(V1_MOUNTINFO, V1_SELF, () => '');
    expect(layout).toEqual({
      version: 1,
      bases: {
        cpu: '/sys/fs/cgroup/cpu/berth',
        cpuacct: '/sys/fs/cgroup/cpuacct/berth',
        memory: '/sys/fs/cgroup/memory/process_api/abc/berth',
        pids: '/sys/fs/cgroup/pids/berth',
      },
      limits: ['memoryBytes', 'cpus', 'pids'],
      delegate: [],
    });
  });

  it('v2 with controllers: berth/ beside the daemon’s cgroup, controllers enabled parent first', () => {
    const asked: string[] = [];
    const layout = detectCgroups(V2_MOUNTINFO, V2_SELF, (dir) => {
      asked.push(dir);
      return 'cpuset cpu io memory pids\n';
    });
    expect(asked).toEqual(['/sys/fs/cgroup/system.slice']);
    expect(layout).toEqual({
      version: 2,
      bases: {
        memory: '/sys/fs/cgroup/system.slice/berth',
        cpu: '/sys/fs/cgroup/system.slice/berth',
        cpuacct: '/sys/fs/cgroup/system.slice/berth',
        pids: '/sys/fs/cgroup/system.slice/berth',
      },
      limits: ['memoryBytes', 'cpus', 'pids'],
      delegate: [
        '/sys/fs/cgroup/system.slice/cgroup.subtree_control',
        '/sys/fs/cgroup/system.slice/berth/cgroup.subtree_control',
      ],
    });
  });

  it('no hierarchy at all, or v2 without controllers and no v1, says why in words', () => {
    expect(detectCgroups('', '', () => null)).toEqual({ why: 'no cgroup hierarchy (v1 or v2) is mounted' });
    expect(detectCgroups(V2_MOUNTINFO, V2_SELF, () => '')).toEqual({
      why: 'the cgroup v2 hierarchy offers no memory, cpu or pids controller and no cgroup v1 controller is mounted',
    });
  });

  it('a v1 plan: one directory per hierarchy, memory+swap after memory, CFS quota, pids.max', () => {
    const layout = detectCgroups(V1_MOUNTINFO, V1_SELF, () => '');
    if ('why' in layout) throw new Error(layout.why);
    const plan = cgroupPlan(layout, 'w1-x', { memoryBytes: 268435456, cpus: 0.5, pids: 100 });
    expect(plan).toEqual({
      placement: {
        version: 1,
        dirs: [
          '/sys/fs/cgroup/memory/process_api/abc/berth/w1-x',
          '/sys/fs/cgroup/cpu/berth/w1-x',
          '/sys/fs/cgroup/cpuacct/berth/w1-x',
          '/sys/fs/cgroup/pids/berth/w1-x',
        ],
        cpuUsageFile: '/sys/fs/cgroup/cpuacct/berth/w1-x/cpuacct.usage',
        oomFile: '/sys/fs/cgroup/memory/process_api/abc/berth/w1-x/memory.oom_control',
      },
      writes: [
        {
          file: '/sys/fs/cgroup/memory/process_api/abc/berth/w1-x/memory.limit_in_bytes',
          value: '268435456',
        },
        {
          file: '/sys/fs/cgroup/memory/process_api/abc/berth/w1-x/memory.memsw.limit_in_bytes',
          value: '268435456',
          optional: true,
        },
        { file: '/sys/fs/cgroup/cpu/berth/w1-x/cpu.cfs_period_us', value: '100000' },
        { file: '/sys/fs/cgroup/cpu/berth/w1-x/cpu.cfs_quota_us', value: '50000' },
        { file: '/sys/fs/cgroup/pids/berth/w1-x/pids.max', value: '100' },
      ],
      procs: [
        '/sys/fs/cgroup/memory/process_api/abc/berth/w1-x/cgroup.procs',
        '/sys/fs/cgroup/cpu/berth/w1-x/cgroup.procs',
        '/sys/fs/cgroup/cpuacct/berth/w1-x/cgroup.procs',
        '/sys/fs/cgroup/pids/berth/w1-x/cgroup.procs',
      ],
    });
    // Only what is asked for is written; the process still enters every hierarchy (CPU accounting).
    expect(cgroupPlan(layout, 'w2', { pids: 7 }).writes).toEqual([
      { file: '/sys/fs/cgroup/pids/berth/w2/pids.max', value: '7' },
    ]);
  });

  it('a v2 plan: one directory, swap off with the memory limit, cpu.max as quota and period', () => {
    const layout = detectCgroups(V2_MOUNTINFO, V2_SELF, () => 'cpu memory pids');
    if ('why' in layout) throw new Error(layout.why);
    const dir = '/sys/fs/cgroup/system.slice/berth/w1-x';
    expect(cgroupPlan(layout, 'w1-x', { memoryBytes: 1048576, cpus: 1.5, pids: 64 })).toEqual({
      placement: {
        version: 2,
        dirs: [dir],
        cpuUsageFile: `${dir}/cpu.stat`,
        oomFile: `${dir}/memory.events`,
      },
      writes: [
        { file: `${dir}/memory.max`, value: '1048576' },
        { file: `${dir}/memory.swap.max`, value: '0', optional: true },
        { file: `${dir}/cpu.max`, value: '150000 100000' },
        { file: `${dir}/pids.max`, value: '64' },
      ],
      procs: [`${dir}/cgroup.procs`],
    });
  });

  it('names keep only characters cgroupfs takes', () => {
    expect(cgroupName('a/b c', 'k1')).toBe('a_b_c-k1');
  });

  it('reads OOM kills and CPU time from either version’s files', () => {
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n')).toBe(2);
    expect(parseOomKills('low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n')).toBe(1);
    expect(parseOomKills('oom_kill_disable 0\n')).toBe(0);
    expect(parseCpuUsageNs('/x/cpuacct.usage', '123456789\n')).toBe(123456789);
    expect(parseCpuUsageNs('/x/cpu.stat', 'usage_usec 2500\nuser_usec 2000\n')).toBe(2_500_000);
    expect(parseCpuUsageNs('/x/cpuacct.usage', '')).toBeNull();
  });
});

describe('entering the cgroup before anything runs', () => {
  it('the fixed script writes its pid into each cgroup.procs, then execs the rest (positional, never interpolated)', () => {
    expect(
      cgroupEnterArgv([
        '/sys/fs/cgroup/memory/berth/w/cgroup.procs',
        '/sys/fs/cgroup/pids/berth/w/cgroup.procs',
      ]),
    ).toEqual([
      '/bin/sh',
      '-c',
      'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"',
      'berth-cgroup-enter',
      '/sys/fs/cgroup/memory/berth/w/cgroup.procs',
      '/sys/fs/cgroup/pids/berth/w/cgroup.procs',
      '--',
    ]);
    expect(CGROUP_ENTER_SCRIPT).not.toContain('${');
  });

  it('comes first, before prlimit and the user’s sh -c', () => {
    expect(
      processArgv({
        program: { command: 'node server.js' },
        cwd: '/app',
        limits: { openFiles: 10, memoryBytes: 1 },
        prlimit: '/usr/bin/prlimit',
        cgroupProcs: ['/sys/fs/cgroup/pids/berth/w/cgroup.procs'],
      }),
    ).toEqual([
      '/bin/sh',
      '-c',
      CGROUP_ENTER_SCRIPT,
      'berth-cgroup-enter',
      '/sys/fs/cgroup/pids/berth/w/cgroup.procs',
      '--',
      '/usr/bin/prlimit',
      '--nofile=10:10',
      '--',
      '/bin/sh',
      '-c',
      'node server.js',
    ]);
  });

  it('a later process (berth ssh) joins a running workload’s cgroup through the same script; none without one', () => {
    const driver = new ProcessDriver({ prlimit: null, cgroups: 'off' });
    const handle = {
      driver: 'process' as const,
      id: 'w',
      pid: 1234,
      startTime: '1',
      logs: { stdout: '/l/out', stderr: '/l/err' },
      ports: {},
    };
    const cgroup = {
      version: 1 as const,
      dirs: ['/sys/fs/cgroup/memory/berth/w-1', '/sys/fs/cgroup/pids/berth/w-1'],
      cpuUsageFile: null,
      oomFile: '/sys/fs/cgroup/memory/berth/w-1/memory.oom_control',
    };
    expect(placementProcs(cgroup)).toEqual([
      '/sys/fs/cgroup/memory/berth/w-1/cgroup.procs',
      '/sys/fs/cgroup/pids/berth/w-1/cgroup.procs',
    ]);
    expect(driver.joinArgv({ ...handle, cgroup })).toEqual([
      '/bin/sh',
      '-c',
      CGROUP_ENTER_SCRIPT,
      'berth-cgroup-enter',
      '/sys/fs/cgroup/memory/berth/w-1/cgroup.procs',
      '/sys/fs/cgroup/pids/berth/w-1/cgroup.procs',
      '--',
    ]);
    expect(driver.joinArgv(handle)).toEqual([]);
  });
});

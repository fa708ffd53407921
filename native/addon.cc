// node-addon-api binding over libbpf: BPF objects (object.cc: open, load, attach), their maps (map.cc: batch
// reads with per-CPU sums done here, key deletion), links (link.cc) and ring buffers delivered on the event loop
// (ring_buffer.cc), interfaces and network namespaces from rtnetlink (netlink.cc); common.cc holds what they share. This file registers them and the host facts the agent
// checks before it loads anything. No policy lives here: src/bpf/ is its typed face and src/collector/ decides
// what to read and when.

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <malloc.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "link.h"
#include "netlink.h"
#include "object.h"
#include "ring_buffer.h"

namespace eoa {
namespace {

// clocks() → { boottimeNs: bigint, realtimeNs: bigint } read back to back: event times from
// bpf_ktime_get_boot_ns() become wall time as realtime - boottime + event.
Napi::Value Clocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct timespec boot;
  struct timespec real;
  clock_gettime(CLOCK_BOOTTIME, &boot);
  clock_gettime(CLOCK_REALTIME, &real);
  Napi::Object result = Napi::Object::New(env);
  result.Set("boottimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(boot.tv_sec * 1000000000LL + boot.tv_nsec)));
  result.Set("realtimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(real.tv_sec * 1000000000LL + real.tv_nsec)));
  return result;
}

// mountTracefs(path): mount -t tracefs nodev path.
Napi::Value MountTracefs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = RequireString(info, 0, "path");
  if (mount("nodev", path.c_str(), "tracefs", 0, nullptr) != 0) {
    throw BpfError(env, errno, "cannot mount tracefs on " + path);
  }
  return env.Undefined();
}

// ifindex(name) → number, 0 when there is no such interface.
Napi::Value IfIndex(const Napi::CallbackInfo& info) {
  std::string name = RequireString(info, 0, "name");
  return Napi::Number::New(info.Env(), if_nametoindex(name.c_str()));
}

// ifname(index) → string, or undefined when the interface is gone.
Napi::Value IfName(const Napi::CallbackInfo& info) {
  uint32_t index = RequireUint32(info, 0, "ifindex");
  char name[IF_NAMESIZE];
  if (if_indextoname(index, name) == nullptr) return info.Env().Undefined();
  return Napi::String::New(info.Env(), name);
}

// xdpQuery(ifindex) → { progId, mode } of what is attached to the interface now (progId 0: nothing).
Napi::Value XdpQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = RequireUint32(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  int err = bpf_xdp_query(static_cast<int>(ifindex), 0, &query);
  if (err != 0) throw BpfError(env, err, "cannot query XDP on interface index " + std::to_string(ifindex));
  Napi::Object result = Napi::Object::New(env);
  result.Set("progId", static_cast<double>(query.prog_id));
  result.Set("mode", static_cast<double>(query.attach_mode));
  return result;
}

// trimMalloc() → boolean: gives the C heap's free pages back to the kernel (glibc malloc_trim(0): also the free
// pages inside the heap, not only at its top), true when some were. A poll frees as much as it allocated, in blocks
// below the mmap threshold (V8's remembered sets, libbpf and N-API scratch), and glibc keeps those pages resident
// until the top of the heap is free: measured at 100,000 processes, 19 MiB of heap of which 5 were free. false where
// the C library has no malloc_trim (musl).
Napi::Value TrimMalloc(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// setMallocOption(name, value) → boolean: glibc's mallopt() for "mmap_threshold", "trim_threshold" or "arena_max",
// true when glibc took it. The agent sets them through the environment when it re-executes itself (src/runtime.ts);
// a user's own V8 flags stop that re-execution, and then these calls make the same settings from the first poll on.
// false where the C library has no mallopt (musl) or for another name.
Napi::Value SetMallocOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "setMallocOption(name: string, value: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
#ifdef __GLIBC__
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const int value = info[1].As<Napi::Number>().Int32Value();
  int param;
  if (name == "mmap_threshold") {
    param = M_MMAP_THRESHOLD;
  } else if (name == "trim_threshold") {
    param = M_TRIM_THRESHOLD;
  } else if (name == "arena_max") {
    param = M_ARENA_MAX;
  } else {
    return Napi::Boolean::New(env, false);
  }
  return Napi::Boolean::New(env, mallopt(param, value) == 1);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// dropFilePages() → number: bytes of file pages the process had mapped read-only and unmodified (the node binary's
// code and read-only data, the shared libraries') that it maps no more: madvise(MADV_DONTNEED) on each private,
// non-writable, file-backed mapping without a private copy of any page (Anonymous: 0 in /proc/self/smaps). The
// pages stay in the page cache; those still used are mapped again at their next access, from the file. Start-up
// touches far more of the binary than a poll does (module loading, compiling the bundle, every init path): about
// 45 MiB of a Node 24 binary stays mapped for good otherwise. -1 when /proc/self/smaps cannot be read.
Napi::Value DropFilePages(const Napi::CallbackInfo& info) {
  FILE* smaps = fopen("/proc/self/smaps", "re");
  if (smaps == nullptr) return Napi::Number::New(info.Env(), -1);
  struct Mapping {
    uintptr_t start;
    uintptr_t end;
    bool candidate;
    bool clean;
    double rss;
  };
  std::vector<Mapping> mappings;
  char line[4096];
  while (fgets(line, sizeof line, smaps) != nullptr) {
    if (strchr(line, '\n') == nullptr && !feof(smaps)) {
      // A longer line (a mapping's path near PATH_MAX): its end is skipped, and so is the mapping, which cannot be
      // told apart from its fields safely.
      int c;
      while ((c = fgetc(smaps)) != EOF && c != '\n') {
      }
      mappings.push_back({0, 0, false, false, 0});
      continue;
    }
    unsigned long start;
    unsigned long end;
    char perms[5];
    unsigned long offset;
    char dev[16];
    unsigned long inode;
    int path = 0;
    if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &start, &end, perms, &offset, dev, &inode, &path) >= 6) {
      // Private, not writable, backed by a file (an inode), and not a special mapping such as [vdso].
      const bool candidate = perms[1] == '-' && perms[3] == 'p' && inode != 0 && path > 0 && line[path] == '/';
      mappings.push_back({start, end, candidate, false, 0});
      continue;
    }
    if (mappings.empty()) continue;
    unsigned long kib;
    if (sscanf(line, "Anonymous: %lu kB", &kib) == 1) {
      mappings.back().clean = kib == 0;
    } else if (sscanf(line, "Rss: %lu kB", &kib) == 1) {
      mappings.back().rss = static_cast<double>(kib) * 1024;
    }
  }
  fclose(smaps);
  double dropped = 0;
  for (const Mapping& m : mappings) {
    if (!m.candidate || !m.clean || m.rss == 0) continue;
    if (madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) == 0) dropped += m.rss;
  }
  return Napi::Number::New(info.Env(), dropped);
}

// enableRunTimeStats() → Link-like handle: the kernel counts run time and runs of every BPF program while it is
// open (BPF_ENABLE_STATS, scoped to this fd rather than the global kernel.bpf_stats_enabled sysctl).
Napi::Value EnableRunTimeStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) throw BpfError(env, fd, "cannot enable BPF run-time statistics");
  return Link::WrapFd(env, fd);
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), libbpf_num_possible_cpus());
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(PrintToCapture);
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function link = Link::Init(env);
  data->link_ctor = Napi::Persistent(link);
  exports.Set("Link", link);
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("RingBuffer", RingBuffer::Init(env));
  exports.Set("clocks", Napi::Function::New<Clocks>(env, "clocks"));
  exports.Set("mountTracefs", Napi::Function::New<MountTracefs>(env, "mountTracefs"));
  exports.Set("ifindex", Napi::Function::New<IfIndex>(env, "ifindex"));
  exports.Set("ifname", Napi::Function::New<IfName>(env, "ifname"));
  exports.Set("links", Napi::Function::New<Links>(env, "links"));
  exports.Set("netnsId", Napi::Function::New<NetnsId>(env, "netnsId"));
  exports.Set("xdpQuery", Napi::Function::New<XdpQuery>(env, "xdpQuery"));
  exports.Set("numPossibleCpus", Napi::Function::New<NumPossibleCpus>(env, "numPossibleCpus"));
  exports.Set("enableRunTimeStats", Napi::Function::New<EnableRunTimeStats>(env, "enableRunTimeStats"));
  exports.Set("libbpfVersion", Napi::Function::New<LibbpfVersion>(env, "libbpfVersion"));
  exports.Set("trimMalloc", Napi::Function::New<TrimMalloc>(env, "trimMalloc"));
  exports.Set("setMallocOption", Napi::Function::New<SetMallocOption>(env, "setMallocOption"));
  exports.Set("dropFilePages", Napi::Function::New<DropFilePages>(env, "dropFilePages"));
  return exports;
}

}  // namespace
}  // namespace eoa

namespace {
Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return eoa::Init(env, exports); }
}  // namespace

NODE_API_MODULE(ebpf_addon, InitAddon)

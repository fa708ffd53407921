#include "object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common.h"
#include "link.h"

namespace eoa {

Napi::Function BpfObject::Init(Napi::Env env) {
  return DefineClass(env, "BpfObject",
                     {
                         InstanceMethod<&BpfObject::Maps>("maps"),
                         InstanceMethod<&BpfObject::Programs>("programs"),
                         InstanceMethod<&BpfObject::SetMaxEntries>("setMaxEntries"),
                         InstanceMethod<&BpfObject::SetGlobal>("setGlobal"),
                         InstanceMethod<&BpfObject::Load>("load"),
                         InstanceMethod<&BpfObject::Attach>("attach"),
                         InstanceMethod<&BpfObject::AttachXdp>("attachXdp"),
                         InstanceMethod<&BpfObject::AttachTcx>("attachTcx"),
                         InstanceMethod<&BpfObject::AttachCpuClock>("attachCpuClock"),
                         InstanceMethod<&BpfObject::ReadMap>("readMap"),
                         InstanceMethod<&BpfObject::DeleteKeys>("deleteKeys"),
                         InstanceMethod<&BpfObject::UpdateElems>("updateElems"),
                         InstanceMethod<&BpfObject::ProgramInfo>("programInfo"),
                         InstanceMethod<&BpfObject::Close>("close"),
                     });
}

BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  std::string path = RequireString(info, 0, "path");
  std::string btf_path;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object options = info[1].As<Napi::Object>();
    if (options.Has("btfPath") && options.Get("btfPath").IsString()) {
      btf_path = options.Get("btfPath").As<Napi::String>().Utf8Value();
    }
    if (options.Has("debug")) debug_ = options.Get("debug").ToBoolean().Value();
  }
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!btf_path.empty()) opts.btf_custom_path = btf_path.c_str();
  Capture capture(debug_);
  struct bpf_object* obj = bpf_object__open_file(path.c_str(), &opts);
  int err = errno;
  if (obj == nullptr) throw BpfError(env, err, "cannot open BPF object " + path, capture.text());
  // The destructor does not run when a constructor throws: close what was opened first.
  if (capture.failed()) bpf_object__close(obj);
  capture.Check(env);
  obj_ = obj;
  path_ = path;
}

BpfObject::~BpfObject() { Release(); }

void BpfObject::Release() {
  maps_.clear();
  if (obj_ != nullptr) {
    bpf_object__close(obj_);
    obj_ = nullptr;
  }
}

void BpfObject::RequireOpen(Napi::Env env) const {
  if (obj_ == nullptr) throw Napi::Error::New(env, "BPF object " + path_ + " is closed");
}

struct bpf_map* BpfObject::FindMap(Napi::Env env, const std::string& name) const {
  RequireOpen(env);
  struct bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
  if (map == nullptr) throw Napi::Error::New(env, "BPF object " + path_ + " has no map named " + name);
  return map;
}

Map& BpfObject::MapNamed(Napi::Env env, const std::string& name) {
  auto it = maps_.find(name);
  if (it != maps_.end()) {
    RequireOpen(env);
    return *it->second;
  }
  struct bpf_map* map = FindMap(env, name);
  return *maps_.emplace(name, std::make_unique<Map>(map)).first->second;
}

struct bpf_program* BpfObject::FindProgram(Napi::Env env, const std::string& name) const {
  RequireOpen(env);
  struct bpf_program* prog = bpf_object__find_program_by_name(obj_, name.c_str());
  if (prog == nullptr) throw Napi::Error::New(env, "BPF object " + path_ + " has no program named " + name);
  return prog;
}

// [{ name, type, keySize, valueSize, maxEntries, perCpu, fd }]
Napi::Value BpfObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  struct bpf_map* map;
  bpf_object__for_each_map(map, obj_) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("name", bpf_map__name(map));
    m.Set("type", static_cast<double>(bpf_map__type(map)));
    m.Set("keySize", static_cast<double>(bpf_map__key_size(map)));
    m.Set("valueSize", static_cast<double>(bpf_map__value_size(map)));
    m.Set("maxEntries", static_cast<double>(bpf_map__max_entries(map)));
    m.Set("perCpu", IsPerCpu(bpf_map__type(map)));
    m.Set("fd", static_cast<double>(bpf_map__fd(map)));
    out.Set(i++, m);
  }
  return out;
}

// [{ name, section, fd }]
Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", bpf_program__name(prog));
    p.Set("section", bpf_program__section_name(prog));
    p.Set("fd", static_cast<double>(bpf_program__fd(prog)));
    out.Set(i++, p);
  }
  return out;
}

// setMaxEntries(map, n): before load; ring buffers take a size in bytes (power of two, page multiple).
Napi::Value BpfObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "map");
  uint32_t n = RequireUint32(info, 1, "maxEntries");
  struct bpf_map* map = FindMap(env, name);
  int err = bpf_map__set_max_entries(map, n);
  if (err != 0) throw BpfError(env, err, "cannot set max_entries of map " + name + " to " + std::to_string(n));
  return env.Undefined();
}

// setGlobal(name, bytes: Uint8Array): before load, sets a `const volatile` global of the program (.rodata)
// by its BTF name; the size must match the variable's.
Napi::Value BpfObject::SetGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "name");
  Napi::Uint8Array value = RequireBytes(info, 1, "value");
  RequireOpen(env);
  struct btf* btf = bpf_object__btf(obj_);
  struct bpf_map* rodata = nullptr;
  struct bpf_map* map;
  bpf_object__for_each_map(map, obj_) {
    std::string map_name = bpf_map__name(map);
    if (map_name.size() >= 7 && map_name.compare(map_name.size() - 7, 7, ".rodata") == 0) rodata = map;
  }
  int sec_id = btf == nullptr ? -1 : btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (rodata == nullptr || sec_id < 0) throw Napi::Error::New(env, "BPF object " + path_ + " has no read-only globals");
  const struct btf_type* sec = btf__type_by_id(btf, static_cast<__u32>(sec_id));
  const struct btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++) {
    const struct btf_type* var = btf__type_by_id(btf, vars[i].type);
    if (name != btf__name_by_offset(btf, var->name_off)) continue;
    if (vars[i].size != value.ByteLength()) {
      throw Napi::TypeError::New(env, "global " + name + " has " + std::to_string(vars[i].size) + " bytes, not " +
                                          std::to_string(value.ByteLength()));
    }
    size_t size = 0;
    const void* current = bpf_map__initial_value(rodata, &size);
    if (current == nullptr || vars[i].offset + vars[i].size > size) throw Napi::Error::New(env, "cannot set global " + name);
    std::vector<uint8_t> data(static_cast<const uint8_t*>(current), static_cast<const uint8_t*>(current) + size);
    memcpy(data.data() + vars[i].offset, value.Data(), value.ByteLength());
    int err = bpf_map__set_initial_value(rodata, data.data(), size);
    if (err != 0) throw BpfError(env, err, "cannot set global " + name);
    return env.Undefined();
  }
  throw Napi::Error::New(env, "BPF object " + path_ + " has no global named " + name);
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Capture capture(debug_);
  int err = bpf_object__load(obj_);
  if (err != 0) throw BpfError(env, err, "cannot load BPF object " + path_, capture.text());
  capture.Check(env);
  return env.Undefined();
}

// attach(program): by its SEC() name (tracepoints, raw tracepoints).
Napi::Value BpfObject::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "program");
  struct bpf_program* prog = FindProgram(env, name);
  Capture capture;
  struct bpf_link* link = bpf_program__attach(prog);
  int err = errno;
  if (link == nullptr) throw BpfError(env, err, "cannot attach program " + name, capture.text());
  if (capture.failed()) bpf_link__destroy(link);
  capture.Check(env);
  return Link::Wrap(env, link);
}

// attachXdp(program, ifindex, flags): a BPF link on the interface (XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE,
// or 0 for the kernel's choice). Returns { link, mode } with the mode the kernel reports in effect.
Napi::Value BpfObject::AttachXdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "program");
  uint32_t ifindex = RequireUint32(info, 1, "ifindex");
  uint32_t flags = RequireUint32(info, 2, "flags");
  struct bpf_program* prog = FindProgram(env, name);
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
  Capture capture;
  int fd = bpf_link_create(bpf_program__fd(prog), static_cast<int>(ifindex), BPF_XDP, &opts);
  if (fd < 0) {
    throw BpfError(env, fd, "cannot attach XDP program " + name + " to interface index " + std::to_string(ifindex),
                   capture.text());
  }
  if (capture.failed()) close(fd);
  capture.Check(env);
  Napi::Object object = Link::WrapFd(env, fd);
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  const char* mode = "unknown";
  if (bpf_xdp_query(static_cast<int>(ifindex), 0, &query) == 0) {
    switch (query.attach_mode) {
      case XDP_ATTACHED_DRV: mode = "native"; break;
      case XDP_ATTACHED_SKB: mode = "generic"; break;
      case XDP_ATTACHED_HW: mode = "offload"; break;
      case XDP_ATTACHED_MULTI: mode = "multi"; break;
      default: break;
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("link", object);
  result.Set("mode", mode);
  return result;
}

// Linux 6.6 include/uapi/linux/bpf.h; Debian's libbpf 1.1 headers predate tcx (and bpf_program__attach_tcx).
#ifndef BPF_F_BEFORE
#define BPF_F_BEFORE (1U << 3)
#define BPF_F_AFTER (1U << 4)
#endif
constexpr int kBpfTcxIngress = 46;  // BPF_TCX_INGRESS
constexpr int kBpfTcxEgress = 47;   // BPF_TCX_EGRESS

// attachTcx(program, ifindex, egress, first): a tcx link on the interface's ingress (or egress) hook. The program
// is appended after every program on the hook (or put before all of them with `first`, BPF_F_BEFORE without a
// relative one); nothing on the hook is replaced. The kernel detaches it when the link fd closes, and by itself when
// the interface goes away (the link then stays, defunct, until closed).
Napi::Value BpfObject::AttachTcx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "program");
  uint32_t ifindex = RequireUint32(info, 1, "ifindex");
  bool egress = info.Length() > 2 && info[2].ToBoolean().Value();
  bool first = info.Length() > 3 && info[3].ToBoolean().Value();
  struct bpf_program* prog = FindProgram(env, name);
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = first ? BPF_F_BEFORE : 0U);
  Capture capture;
  auto type = static_cast<enum bpf_attach_type>(egress ? kBpfTcxEgress : kBpfTcxIngress);
  int fd = bpf_link_create(bpf_program__fd(prog), static_cast<int>(ifindex), type, &opts);
  if (fd < 0) {
    throw BpfError(env, fd,
                   std::string("cannot attach tc program ") + name + " to the " + (egress ? "egress" : "ingress") +
                       " of interface index " + std::to_string(ifindex),
                   capture.text());
  }
  if (capture.failed()) close(fd);
  capture.Check(env);
  return Link::WrapFd(env, fd);
}

// attachCpuClock(program, cpu, hz): a CPU-clock software perf event sampling at `hz` on one CPU, all
// processes, with the program attached to it. The link owns the perf event fd.
Napi::Value BpfObject::AttachCpuClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "program");
  uint32_t cpu = RequireUint32(info, 1, "cpu");
  uint32_t hz = RequireUint32(info, 2, "hz");
  struct bpf_program* prog = FindProgram(env, name);
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.freq = 1;
  attr.sample_freq = hz;
  int fd = static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, static_cast<int>(cpu), -1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) throw BpfError(env, errno, "cannot open a CPU-clock perf event on CPU " + std::to_string(cpu));
  Capture capture;
  struct bpf_link* link = bpf_program__attach_perf_event(prog, fd);
  int err = errno;
  if (link == nullptr) {
    close(fd);
    throw BpfError(env, err, "cannot attach program " + name + " to the perf event on CPU " + std::to_string(cpu),
                   capture.text());
  }
  if (capture.failed()) bpf_link__destroy(link);
  capture.Check(env);
  return Link::Wrap(env, link);
}

// readMap(map, limit?) → { count, keys: ArrayBuffer, values: ArrayBuffer } (see Map::Read).
Napi::Value BpfObject::ReadMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t limit = 0;
  if (info.Length() > 1 && info[1].IsNumber()) {
    double l = info[1].As<Napi::Number>().DoubleValue();
    if (!(l >= 1)) throw Napi::RangeError::New(env, "limit must be a positive number of entries");
    limit = static_cast<size_t>(l);
  }
  return MapNamed(env, RequireString(info, 0, "map")).Read(env, limit);
}

// updateElems(map, keys: Uint8Array, values: Uint8Array): each key set to its value (per-CPU: on every CPU).
Napi::Value BpfObject::UpdateElems(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "map");
  Napi::Uint8Array keys = RequireBytes(info, 1, "keys");
  Napi::Uint8Array values = RequireBytes(info, 2, "values");
  MapNamed(env, name).Update(env, keys, values);
  return env.Undefined();
}

// deleteKeys(map, keys: Uint8Array) → number deleted.
Napi::Value BpfObject::DeleteKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "map");
  Napi::Uint8Array keys = RequireBytes(info, 1, "keys");
  return Napi::Number::New(env, static_cast<double>(MapNamed(env, name).DeleteKeys(env, keys)));
}

// programInfo(program) → { id, runTimeNs, runCount, verifiedInstructions } (run stats need BPF_ENABLE_STATS).
Napi::Value BpfObject::ProgramInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(info, 0, "program");
  struct bpf_program* prog = FindProgram(env, name);
  struct bpf_prog_info pinfo;
  memset(&pinfo, 0, sizeof(pinfo));
  __u32 len = sizeof(pinfo);
  int err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &pinfo, &len);
  if (err != 0) throw BpfError(env, err, "cannot read info of program " + name);
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", static_cast<double>(pinfo.id));
  result.Set("runTimeNs", static_cast<double>(pinfo.run_time_ns));
  result.Set("runCount", static_cast<double>(pinfo.run_cnt));
  result.Set("verifiedInstructions", static_cast<double>(pinfo.verified_insns));
  return result;
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace eoa

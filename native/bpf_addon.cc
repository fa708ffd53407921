// node-addon-api binding over libbpf: BPF objects (open, load, attach), links, map batch reads with per-CPU sums
// done here, key deletion, and ring buffers delivered on the event loop. No policy lives here: src/bpf/ is its
// typed face and src/collector/ decides what to read and when.

#include <napi.h>
#include <uv.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------------------------
// libbpf messages. libbpf_set_print() is process-wide and its callback has no context pointer, so the only way to
// attach libbpf's messages (the verifier log among them) to the call that caused them is a per-thread capture
// buffer installed for the duration of that call. All calls that can print run on the JS thread.

thread_local std::string* tls_capture = nullptr;
thread_local bool tls_debug = false;

int PrintToCapture(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !tls_debug) return 0;
  char line[4096];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(line, sizeof(line), fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  if (tls_capture != nullptr) {
    tls_capture->append(line, std::min<size_t>(static_cast<size_t>(n), sizeof(line) - 1));
    if (n >= static_cast<int>(sizeof(line))) {
      // Long messages (the verifier log) do not fit the line buffer: format them again at full size.
      std::vector<char> big(static_cast<size_t>(n) + 1);
      vsnprintf(big.data(), big.size(), fmt, args);
      tls_capture->resize(tls_capture->size() - (sizeof(line) - 1));
      tls_capture->append(big.data(), static_cast<size_t>(n));
    }
  } else if (tls_debug) {
    fputs(line, stderr);
  }
  return 0;
}

class Capture {
 public:
  Capture() : previous_(tls_capture) { tls_capture = &text_; }
  ~Capture() { tls_capture = previous_; }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string* previous_;
};

// The last `max_lines` lines of a log, for error messages; the full log goes on the error's `log` property.
std::string Tail(const std::string& log, size_t max_lines) {
  size_t end = log.size();
  while (end > 0 && log[end - 1] == '\n') end--;
  size_t pos = end;
  size_t lines = 0;
  while (pos > 0) {
    if (log[pos - 1] == '\n' && ++lines == max_lines) break;
    pos--;
  }
  return log.substr(pos, end - pos);
}

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EUNKNOWN";
}

// An Error whose message names what failed and why, with `errno` (positive), `code` (EPERM, …) and, when libbpf
// said something, `log` (everything it printed) and the log's tail in the message.
Napi::Error BpfError(Napi::Env env, int err, const std::string& what, const std::string& log = std::string()) {
  if (err < 0) err = -err;
  std::string message = what + ": " + strerror(err) + " (" + ErrnoName(err) + ")";
  if (!log.empty()) message += "\n" + Tail(log, 25);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  if (!log.empty()) error.Set("log", Napi::String::New(env, log));
  return error;
}

struct AddonData {
  Napi::FunctionReference link_ctor;
};

bool IsPerCpu(enum bpf_map_type type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

std::string RequireString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  }
  return info[index].As<Napi::String>().Utf8Value();
}

uint32_t RequireUint32(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (value < 0 || value > 4294967295.0 || value != static_cast<double>(static_cast<uint32_t>(value))) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an integer from 0 to 2^32-1");
  }
  return static_cast<uint32_t>(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Link: one attachment. Either a libbpf bpf_link or a raw BPF link fd (XDP links made with bpf_link_create so the
// mode flags can be given). Both are kernel bpf_link objects: when the fd closes, also because the process was
// killed, the kernel detaches the program. Nothing is pinned.

class Link : public Napi::ObjectWrap<Link> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Link",
                       {InstanceMethod<&Link::Destroy>("destroy"), InstanceAccessor<&Link::Fd>("fd")});
  }

  explicit Link(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Link>(info) {}
  ~Link() override { Release(); }

  void Adopt(struct bpf_link* link) { link_ = link; }
  void AdoptFd(int fd) { fd_ = fd; }

 private:
  void Release() {
    if (link_ != nullptr) {
      bpf_link__destroy(link_);
      link_ = nullptr;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    int fd = link_ != nullptr ? bpf_link__fd(link_) : fd_;
    return Napi::Number::New(info.Env(), fd);
  }

  struct bpf_link* link_ = nullptr;
  int fd_ = -1;
};

// ---------------------------------------------------------------------------------------------------------------
// BpfObject: one .bpf.o. open → (setMaxEntries) → load → attach/read/delete → close. The destructor closes it,
// so a forgotten close() leaks nothing.

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceMethod<&BpfObject::Maps>("maps"),
                           InstanceMethod<&BpfObject::Programs>("programs"),
                           InstanceMethod<&BpfObject::SetMaxEntries>("setMaxEntries"),
                           InstanceMethod<&BpfObject::SetGlobal>("setGlobal"),
                           InstanceMethod<&BpfObject::Load>("load"),
                           InstanceMethod<&BpfObject::Attach>("attach"),
                           InstanceMethod<&BpfObject::AttachXdp>("attachXdp"),
                           InstanceMethod<&BpfObject::AttachCpuClock>("attachCpuClock"),
                           InstanceMethod<&BpfObject::ReadMap>("readMap"),
                           InstanceMethod<&BpfObject::LookupMap>("lookupMap"),
                           InstanceMethod<&BpfObject::DeleteKeys>("deleteKeys"),
                           InstanceMethod<&BpfObject::UpdateKeys>("updateKeys"),
                           InstanceMethod<&BpfObject::ProgramInfo>("programInfo"),
                           InstanceMethod<&BpfObject::Close>("close"),
                       });
  }

  // new BpfObject(path, { btfPath?: string, debug?: boolean })
  explicit BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
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
    Capture capture;
    tls_debug = debug_;
    struct bpf_object* obj = bpf_object__open_file(path.c_str(), &opts);
    int err = errno;
    tls_debug = false;
    if (obj == nullptr) {
      throw BpfError(env, err, "cannot open BPF object " + path, capture.text());
    }
    obj_ = obj;
    path_ = path;
  }

  ~BpfObject() override { Release(); }

  struct bpf_object* Raw() const { return obj_; }

  struct bpf_map* FindMap(Napi::Env env, const std::string& name) const {
    if (obj_ == nullptr) throw Napi::Error::New(env, "BPF object " + path_ + " is closed");
    struct bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
    if (map == nullptr) throw Napi::Error::New(env, "BPF object " + path_ + " has no map named " + name);
    return map;
  }

 private:
  void Release() {
    if (obj_ != nullptr) {
      bpf_object__close(obj_);
      obj_ = nullptr;
    }
  }

  void RequireOpen(Napi::Env env) const {
    if (obj_ == nullptr) throw Napi::Error::New(env, "BPF object " + path_ + " is closed");
  }

  struct bpf_program* FindProgram(Napi::Env env, const std::string& name) const {
    RequireOpen(env);
    struct bpf_program* prog = bpf_object__find_program_by_name(obj_, name.c_str());
    if (prog == nullptr) throw Napi::Error::New(env, "BPF object " + path_ + " has no program named " + name);
    return prog;
  }

  // [{ name, type, keySize, valueSize, maxEntries, fd }]
  Napi::Value Maps(const Napi::CallbackInfo& info) {
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

  // [{ name, section }]
  Napi::Value Programs(const Napi::CallbackInfo& info) {
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
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info) {
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
  Napi::Value SetGlobal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = RequireString(info, 0, "name");
    if (info.Length() < 2 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "value must be a Uint8Array");
    Napi::Uint8Array value = info[1].As<Napi::Uint8Array>();
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

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    Capture capture;
    tls_debug = debug_;
    int err = bpf_object__load(obj_);
    tls_debug = false;
    if (err != 0) throw BpfError(env, err, "cannot load BPF object " + path_, capture.text());
    return env.Undefined();
  }

  Napi::Object NewLink(Napi::Env env) {
    return env.GetInstanceData<AddonData>()->link_ctor.New({});
  }

  // attach(program): by its SEC() name (tracepoints, raw tracepoints).
  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = RequireString(info, 0, "program");
    struct bpf_program* prog = FindProgram(env, name);
    Capture capture;
    struct bpf_link* link = bpf_program__attach(prog);
    int err = errno;
    if (link == nullptr) throw BpfError(env, err, "cannot attach program " + name, capture.text());
    Napi::Object object = NewLink(env);
    Link::Unwrap(object)->Adopt(link);
    return object;
  }

  // attachXdp(program, ifindex, flags): a BPF link on the interface (XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE,
  // or 0 for the kernel's choice). Returns { link, mode } with the mode the kernel reports in effect.
  Napi::Value AttachXdp(const Napi::CallbackInfo& info) {
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
    Napi::Object object = NewLink(env);
    Link::Unwrap(object)->AdoptFd(fd);
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

  // attachCpuClock(program, cpu, hz): a CPU-clock software perf event sampling at `hz` on one CPU, all
  // processes, with the program attached to it. The link owns the perf event fd.
  Napi::Value AttachCpuClock(const Napi::CallbackInfo& info) {
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
    Napi::Object object = NewLink(env);
    Link::Unwrap(object)->Adopt(link);
    return object;
  }

  // readMap(map) → { count, keys: ArrayBuffer, values: ArrayBuffer }: every entry, keys packed at keySize,
  // values at valueSize. Per-CPU values are summed here, as u64 lanes, so JS sees one value per key. One call,
  // one pair of buffers per map per read; batch lookups, falling back to get_next_key where the kernel or map
  // type has no batch support.
  Napi::Value ReadMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = RequireString(info, 0, "map");
    struct bpf_map* map = FindMap(env, name);
    const int fd = bpf_map__fd(map);
    if (fd < 0) throw Napi::Error::New(env, "map " + name + " is not loaded");
    const enum bpf_map_type type = bpf_map__type(map);
    const size_t key_size = bpf_map__key_size(map);
    const size_t value_size = bpf_map__value_size(map);
    const size_t max = bpf_map__max_entries(map);
    const bool per_cpu = IsPerCpu(type);
    if (per_cpu && value_size % 8 != 0) {
      throw Napi::Error::New(env, "map " + name + ": per-CPU values must be made of u64 lanes");
    }
    const int ncpu = per_cpu ? libbpf_num_possible_cpus() : 1;
    if (ncpu <= 0) throw BpfError(env, ncpu, "cannot count possible CPUs");
    const size_t stride = per_cpu ? ((value_size + 7) / 8) * 8 * static_cast<size_t>(ncpu) : value_size;

    Scratch& scratch = scratch_[name];
    scratch.keys.resize(max * key_size);
    scratch.values.resize(max * stride);
    size_t n = 0;

    bool batched = false;
    if (type != BPF_MAP_TYPE_RINGBUF) {
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      uint64_t in_batch = 0;
      uint64_t out_batch = 0;
      bool first = true;
      int err = 0;
      while (n < max) {
        __u32 count = static_cast<__u32>(max - n);
        err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, scratch.keys.data() + n * key_size,
                                   scratch.values.data() + n * stride, &count, &opts);
        if (err < 0 && err != -ENOENT) break;
        n += count;
        first = false;
        in_batch = out_batch;
        if (err == -ENOENT) {
          err = 0;
          break;
        }
      }
      if (err == 0) {
        batched = true;
      } else if (n == 0 && (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP)) {
        batched = false;  // no batch ops here: iterate below
      } else {
        throw BpfError(env, err, "cannot read map " + name);
      }
    }
    if (!batched) {
      n = 0;
      std::vector<uint8_t> key(key_size);
      std::vector<uint8_t> next(key_size);
      const void* prev = nullptr;
      while (n < max && bpf_map_get_next_key(fd, prev, next.data()) == 0) {
        if (bpf_map_lookup_elem(fd, next.data(), scratch.values.data() + n * stride) == 0) {
          memcpy(scratch.keys.data() + n * key_size, next.data(), key_size);
          n++;
        }
        key.swap(next);
        prev = key.data();
      }
    }

    Napi::ArrayBuffer keys = Napi::ArrayBuffer::New(env, n * key_size);
    if (n > 0) memcpy(keys.Data(), scratch.keys.data(), n * key_size);
    Napi::ArrayBuffer values = Napi::ArrayBuffer::New(env, n * value_size);
    uint8_t* out = static_cast<uint8_t*>(values.Data());
    if (per_cpu) {
      const size_t lanes = value_size / 8;
      const size_t cpu_stride = lanes * 8;
      for (size_t i = 0; i < n; i++) {
        const uint8_t* in = scratch.values.data() + i * stride;
        for (size_t lane = 0; lane < lanes; lane++) {
          uint64_t sum = 0;
          for (int cpu = 0; cpu < ncpu; cpu++) {
            uint64_t v;
            memcpy(&v, in + static_cast<size_t>(cpu) * cpu_stride + lane * 8, 8);
            sum += v;
          }
          memcpy(out + i * value_size + lane * 8, &sum, 8);
        }
      }
    } else if (n > 0) {
      memcpy(out, scratch.values.data(), n * value_size);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("count", static_cast<double>(n));
    result.Set("keys", keys);
    result.Set("values", values);
    return result;
  }

  // lookupMap(map, keys: Uint8Array) → { found: Uint8Array (1 per key), values: ArrayBuffer }: one lookup per
  // key (the plain way, kept for the poll benchmark's baseline and for maps too large to read whole).
  Napi::Value LookupMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = RequireString(info, 0, "map");
    if (info.Length() < 2 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "keys must be a Uint8Array");
    Napi::Uint8Array keys = info[1].As<Napi::Uint8Array>();
    struct bpf_map* map = FindMap(env, name);
    const int fd = bpf_map__fd(map);
    const size_t key_size = bpf_map__key_size(map);
    const size_t value_size = bpf_map__value_size(map);
    const bool per_cpu = IsPerCpu(bpf_map__type(map));
    const int ncpu = per_cpu ? libbpf_num_possible_cpus() : 1;
    const size_t stride = per_cpu ? value_size * static_cast<size_t>(ncpu) : value_size;
    if (keys.ByteLength() % key_size != 0) throw Napi::TypeError::New(env, "keys length is not a multiple of the key size");
    const size_t n = keys.ByteLength() / key_size;
    Napi::Uint8Array found = Napi::Uint8Array::New(env, n);
    Napi::ArrayBuffer values = Napi::ArrayBuffer::New(env, n * value_size);
    uint8_t* out = static_cast<uint8_t*>(values.Data());
    std::vector<uint8_t> raw(stride);
    for (size_t i = 0; i < n; i++) {
      if (bpf_map_lookup_elem(fd, keys.Data() + i * key_size, raw.data()) != 0) {
        found[i] = 0;
        memset(out + i * value_size, 0, value_size);
        continue;
      }
      found[i] = 1;
      if (!per_cpu) {
        memcpy(out + i * value_size, raw.data(), value_size);
        continue;
      }
      for (size_t lane = 0; lane < value_size / 8; lane++) {
        uint64_t sum = 0;
        for (int cpu = 0; cpu < ncpu; cpu++) {
          uint64_t v;
          memcpy(&v, raw.data() + static_cast<size_t>(cpu) * value_size + lane * 8, 8);
          sum += v;
        }
        memcpy(out + i * value_size + lane * 8, &sum, 8);
      }
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("found", found);
    result.Set("values", values);
    return result;
  }

  // deleteKeys(map, keys: Uint8Array) → number deleted. Keys already gone are skipped, not errors.
  Napi::Value DeleteKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = RequireString(info, 0, "map");
    if (info.Length() < 2 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "keys must be a Uint8Array");
    Napi::Uint8Array keys = info[1].As<Napi::Uint8Array>();
    struct bpf_map* map = FindMap(env, name);
    const int fd = bpf_map__fd(map);
    const size_t key_size = bpf_map__key_size(map);
    if (keys.ByteLength() % key_size != 0) throw Napi::TypeError::New(env, "keys length is not a multiple of the key size");
    const size_t n = keys.ByteLength() / key_size;
    size_t deleted = 0;
    size_t pos = 0;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    // A batch delete stops at the first missing key and reports how many it deleted before it: skip that key
    // and go on. Kernels or maps without batch delete take one call per key.
    bool batch = true;
    while (pos < n) {
      if (batch) {
        __u32 count = static_cast<__u32>(n - pos);
        int err = bpf_map_delete_batch(fd, keys.Data() + pos * key_size, &count, &opts);
        deleted += count;
        pos += count;
        if (err == 0) break;
        if (err == -ENOENT) {
          pos++;
          continue;
        }
        if (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP) {
          batch = false;
          continue;
        }
        throw BpfError(env, err, "cannot delete keys from map " + name);
      }
      int err = bpf_map_delete_elem(fd, keys.Data() + pos * key_size);
      if (err == 0) {
        deleted++;
      } else if (err != -ENOENT) {
        throw BpfError(env, err, "cannot delete a key from map " + name);
      }
      pos++;
    }
    return Napi::Number::New(env, static_cast<double>(deleted));
  }

  // updateKeys(map, keys: Uint8Array, values: Uint8Array): writes entries in one batch (per-CPU maps take a
  // value per possible CPU for each key, each rounded up to 8 bytes). For benchmarks and tests that pre-fill maps.
  Napi::Value UpdateKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = RequireString(info, 0, "map");
    if (info.Length() < 3 || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
      throw Napi::TypeError::New(env, "updateKeys(map, keys: Uint8Array, values: Uint8Array)");
    }
    Napi::Uint8Array keys = info[1].As<Napi::Uint8Array>();
    Napi::Uint8Array values = info[2].As<Napi::Uint8Array>();
    struct bpf_map* map = FindMap(env, name);
    const size_t key_size = bpf_map__key_size(map);
    const size_t value_size = bpf_map__value_size(map);
    const bool per_cpu = IsPerCpu(bpf_map__type(map));
    const size_t stride = per_cpu ? ((value_size + 7) / 8) * 8 * static_cast<size_t>(libbpf_num_possible_cpus()) : value_size;
    if (keys.ByteLength() % key_size != 0 || values.ByteLength() != keys.ByteLength() / key_size * stride) {
      throw Napi::TypeError::New(env, "keys and values do not match the map's key and value sizes");
    }
    __u32 count = static_cast<__u32>(keys.ByteLength() / key_size);
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err = bpf_map_update_batch(bpf_map__fd(map), keys.Data(), values.Data(), &count, &opts);
    if (err != 0) throw BpfError(env, err, "cannot update map " + name);
    return Napi::Number::New(env, count);
  }

  // programInfo(program) → { id, runTimeNs, runCount, verifiedInstructions } (run stats need BPF_ENABLE_STATS).
  Napi::Value ProgramInfo(const Napi::CallbackInfo& info) {
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

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  struct Scratch {
    std::vector<uint8_t> keys;
    std::vector<uint8_t> values;
  };

  struct bpf_object* obj_ = nullptr;
  std::string path_;
  bool debug_ = false;
  std::unordered_map<std::string, Scratch> scratch_;
};

// ---------------------------------------------------------------------------------------------------------------
// RingBuffer: events of a BPF ring buffer map, delivered on the JS thread. Delivery uses a uv_poll on the ring
// buffer's epoll fd rather than a thread feeding a thread-safe function: the kernel already wakes an fd when
// data arrives, so a poll handle costs no thread, no locking and no copy into a queue, and consume() runs on the
// loop thread where the callback must run anyway. Each wakeup drains everything and makes one JS call with a
// packed batch: [u32 length][payload padded to 8 bytes]...

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {InstanceMethod<&RingBuffer::Consume>("consume"), InstanceMethod<&RingBuffer::Close>("close")});
  }

  // new RingBuffer(object: BpfObject, map: string, callback: (batch: ArrayBuffer, count: number) => void)
  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[2].IsFunction()) {
      throw Napi::TypeError::New(env, "RingBuffer(object, map, callback)");
    }
    BpfObject* object = BpfObject::Unwrap(info[0].As<Napi::Object>());
    std::string name = RequireString(info, 1, "map");
    struct bpf_map* map = object->FindMap(env, name);
    if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) throw Napi::TypeError::New(env, "map " + name + " is not a ring buffer");
    Capture capture;
    rb_ = ring_buffer__new(bpf_map__fd(map), &RingBuffer::OnSample, this, nullptr);
    int err = errno;
    if (rb_ == nullptr) throw BpfError(env, err, "cannot open ring buffer " + name, capture.text());
    owner_ = Napi::Persistent(info[0].As<Napi::Object>());
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "ebpf-ringbuf");

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    int rc = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnReadable);
    if (rc != 0) {
      Release();
      throw Napi::Error::New(env, std::string("cannot poll ring buffer ") + name + ": " + uv_strerror(rc));
    }
  }

  ~RingBuffer() override { Release(); }

 private:
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    const uint32_t len = static_cast<uint32_t>(size);
    const size_t padded = (size + 7) & ~static_cast<size_t>(7);
    const size_t at = self->batch_.size();
    self->batch_.resize(at + 8 + padded);
    memcpy(self->batch_.data() + at, &len, 4);
    memset(self->batch_.data() + at + 4, 0, 4);
    memcpy(self->batch_.data() + at + 8, data, size);
    self->count_++;
    return 0;
  }

  // Drains the ring buffer and hands the batch to JS. `from_loop`: called from the uv poll, outside any JS frame.
  void Drain(Napi::Env env, bool from_loop) {
    if (rb_ == nullptr) return;
    batch_.clear();
    count_ = 0;
    int n = ring_buffer__consume(rb_);
    if (n < 0) {
      Napi::Error error = BpfError(env, n, "cannot consume ring buffer");
      if (from_loop) {
        napi_fatal_exception(env, error.Value());
        return;
      }
      throw error;
    }
    if (count_ == 0) return;
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, batch_.size());
    memcpy(buffer.Data(), batch_.data(), batch_.size());
    std::vector<napi_value> args = {buffer, Napi::Number::New(env, static_cast<double>(count_))};
    if (from_loop) {
      try {
        callback_.MakeCallback(Value(), args, *context_);
      } catch (const Napi::Error& error) {
        napi_fatal_exception(env, error.Value());
      }
    } else {
      callback_.Call(Value(), args);
    }
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<RingBuffer*>(handle->data);
    if (self == nullptr || status < 0) return;
    Napi::HandleScope scope(self->env_);
    self->Drain(self->env_, true);
  }

  // consume(): drain now, synchronously (the collector drains before reading maps so events precede counts).
  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Drain(info.Env(), false);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    if (poll_ != nullptr) {
      poll_->data = nullptr;
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
      poll_ = nullptr;
    }
    if (rb_ != nullptr) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
    if (!owner_.IsEmpty()) owner_.Reset();
    if (!callback_.IsEmpty()) callback_.Reset();
  }

  Napi::Env env_;
  struct ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::ObjectReference owner_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  std::vector<uint8_t> batch_;
  size_t count_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// Host facts the agent checks before it loads anything.

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

// enableRunTimeStats() → Link-like handle: the kernel counts run time and runs of every BPF program while it is
// open (BPF_ENABLE_STATS, scoped to this fd rather than the global kernel.bpf_stats_enabled sysctl).
Napi::Value EnableRunTimeStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) throw BpfError(env, fd, "cannot enable BPF run-time statistics");
  Napi::Object object = env.GetInstanceData<AddonData>()->link_ctor.New({});
  Link::Unwrap(object)->AdoptFd(fd);
  return object;
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
  Napi::Function link = Link::Init(env);
  data->link_ctor = Napi::Persistent(link);
  env.SetInstanceData<AddonData>(data);
  exports.Set("Link", link);
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("RingBuffer", RingBuffer::Init(env));
  exports.Set("clocks", Napi::Function::New<Clocks>(env, "clocks"));
  exports.Set("mountTracefs", Napi::Function::New<MountTracefs>(env, "mountTracefs"));
  exports.Set("ifindex", Napi::Function::New<IfIndex>(env, "ifindex"));
  exports.Set("ifname", Napi::Function::New<IfName>(env, "ifname"));
  exports.Set("xdpQuery", Napi::Function::New<XdpQuery>(env, "xdpQuery"));
  exports.Set("numPossibleCpus", Napi::Function::New<NumPossibleCpus>(env, "numPossibleCpus"));
  exports.Set("enableRunTimeStats", Napi::Function::New<EnableRunTimeStats>(env, "enableRunTimeStats"));
  exports.Set("libbpfVersion", Napi::Function::New<LibbpfVersion>(env, "libbpfVersion"));
  return exports;
}

}  // namespace

NODE_API_MODULE(ebpf_addon, Init)

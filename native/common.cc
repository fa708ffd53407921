#include "common.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

namespace eoa {

namespace {

thread_local Capture* tls_capture = nullptr;

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

}  // namespace

int PrintToCapture(enum libbpf_print_level level, const char* fmt, va_list args) {
  Capture* capture = tls_capture;
  if (capture == nullptr || (level == LIBBPF_DEBUG && !capture->debug_)) return 0;
  try {
    char line[4096];
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(line, sizeof(line), fmt, copy);
    va_end(copy);
    if (n < 0) return 0;
    std::vector<char> big;
    const char* text = line;
    if (static_cast<size_t>(n) >= sizeof(line)) {
      // Long messages (the verifier log) do not fit the line buffer: format them again at full size.
      big.resize(static_cast<size_t>(n) + 1);
      vsnprintf(big.data(), big.size(), fmt, args);
      text = big.data();
    }
    capture->text_.append(text, static_cast<size_t>(n));
    // --log-level debug: libbpf's own lines (each starts with "libbpf: ") also go to stderr as it prints them,
    // whether or not the call then fails.
    if (capture->debug_) fwrite(text, 1, static_cast<size_t>(n), stderr);
  } catch (const std::exception& error) {
    if (!capture->failed()) snprintf(capture->failure_, sizeof(capture->failure_), "%s", error.what());
  } catch (...) {
    if (!capture->failed()) snprintf(capture->failure_, sizeof(capture->failure_), "unknown exception");
  }
  return 0;
}

Capture::Capture(bool debug) : debug_(debug), previous_(tls_capture) { tls_capture = this; }

Capture::~Capture() { tls_capture = previous_; }

void Capture::Check(Napi::Env env) const {
  if (failed()) throw Napi::Error::New(env, std::string("cannot record libbpf's messages: ") + failure_);
}

Napi::Error BpfError(Napi::Env env, int err, const std::string& what, const std::string& log) {
  if (err < 0) err = -err;
  std::string message = what + ": " + strerror(err) + " (" + ErrnoName(err) + ")";
  if (!log.empty()) message += "\n" + Tail(log, 25);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  if (!log.empty()) error.Set("log", Napi::String::New(env, log));
  return error;
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

Napi::Uint8Array RequireBytes(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Uint8Array");
  }
  return info[index].As<Napi::Uint8Array>();
}

bool IsPerCpu(enum bpf_map_type type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

size_t PerCpuStride(size_t value_size, size_t ncpu) { return ((value_size + 7) / 8) * 8 * ncpu; }

void SumPerCpu(const uint8_t* in, size_t value_size, size_t ncpu, uint8_t* out) {
  const size_t cpu_stride = PerCpuStride(value_size, 1);
  for (size_t lane = 0; lane < value_size / 8; lane++) {
    uint64_t sum = 0;
    for (size_t cpu = 0; cpu < ncpu; cpu++) {
      uint64_t v;
      memcpy(&v, in + cpu * cpu_stride + lane * 8, 8);
      sum += v;
    }
    memcpy(out + lane * 8, &sum, 8);
  }
}

}  // namespace eoa

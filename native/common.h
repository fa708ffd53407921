// What every class of the addon shares: libbpf's messages captured per call, errors that carry errno, argument
// checks, per-environment state, and per-CPU summing.

#ifndef EOA_NATIVE_COMMON_H
#define EOA_NATIVE_COMMON_H

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <string>

namespace eoa {

// Per-environment state (SetInstanceData): the constructors native code instantiates.
struct AddonData {
  Napi::FunctionReference link_ctor;
};

// libbpf messages. libbpf_set_print() is process-wide and its callback has no context pointer, so the only way to
// attach libbpf's messages (the verifier log among them) to the call that caused them is a per-thread capture
// installed for the duration of that call. All calls that can print run on the JS thread. The print callback is
// called by libbpf (C): it catches everything and records it here; Check() rethrows it as a JS error once the
// libbpf call has returned.
int PrintToCapture(enum libbpf_print_level level, const char* fmt, va_list args);

class Capture {
 public:
  // `debug`: keep libbpf's debug-level messages too.
  explicit Capture(bool debug = false);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  const std::string& text() const { return text_; }
  bool failed() const { return failure_[0] != '\0'; }
  // Throws a JS Error if a message could not be recorded (the print callback caught an exception).
  void Check(Napi::Env env) const;

 private:
  friend int PrintToCapture(enum libbpf_print_level level, const char* fmt, va_list args);
  std::string text_;
  char failure_[256] = "";  // what the print callback caught; a fixed buffer: recording it cannot throw
  bool debug_;
  Capture* previous_;
};

// An Error whose message names what failed and why, with `errno` (positive), `code` (EPERM, …) and, when libbpf
// said something, `log` (everything it printed) and the log's tail in the message.
Napi::Error BpfError(Napi::Env env, int err, const std::string& what, const std::string& log = std::string());

// Argument checks: a TypeError naming the argument.
std::string RequireString(const Napi::CallbackInfo& info, size_t index, const char* name);
uint32_t RequireUint32(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Uint8Array RequireBytes(const Napi::CallbackInfo& info, size_t index, const char* name);

bool IsPerCpu(enum bpf_map_type type);

// The kernel's per-CPU value of one entry: one value per possible CPU, each rounded up to 8 bytes.
size_t PerCpuStride(size_t value_size, size_t ncpu);

// Sums one per-CPU entry as u64 lanes into `out` (value_size bytes, a multiple of 8): JS sees one value per key.
void SumPerCpu(const uint8_t* in, size_t value_size, size_t ncpu, uint8_t* out);

}  // namespace eoa

#endif  // EOA_NATIVE_COMMON_H

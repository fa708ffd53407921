// RingBuffer: events of a BPF ring buffer map, delivered on the JS thread. Delivery uses a uv_poll on the ring
// buffer's epoll fd rather than a thread feeding a thread-safe function: the kernel already wakes an fd when
// data arrives, so a poll handle costs no thread, no locking and no copy into a queue, and consume() runs on the
// loop thread where the callback must run anyway. Each wakeup drains everything and makes one JS call with a
// packed batch: [u32 length][u32 0][payload padded to 8 bytes]...

#ifndef EOA_NATIVE_RING_BUFFER_H
#define EOA_NATIVE_RING_BUFFER_H

#include <napi.h>
#include <uv.h>

#include <bpf/libbpf.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace eoa {

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Init(Napi::Env env);

  // new RingBuffer(object: BpfObject, map: string, callback: (batch: ArrayBuffer, count: number) => void)
  explicit RingBuffer(const Napi::CallbackInfo& info);
  ~RingBuffer() override;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

 private:
  // libbpf's sample callback (C): never lets an exception out; records it for Drain() to rethrow.
  static int OnSample(void* ctx, void* data, size_t size);
  // libuv's poll callback (C): never lets an exception out; errors go to the process as uncaught exceptions.
  static void OnReadable(uv_poll_t* handle, int status, int events);

  void Drain(Napi::Env env, bool from_loop);
  void Release();
  Napi::Value Consume(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Napi::Env env_;
  std::string name_;
  struct ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;  // set only once uv_poll_init succeeded: only an initialised handle is uv_close()d
  Napi::ObjectReference owner_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  std::vector<uint8_t> batch_;
  size_t count_ = 0;
  char sample_failure_[256] = "";  // what OnSample caught; a fixed buffer: recording it cannot throw
};

}  // namespace eoa

#endif  // EOA_NATIVE_RING_BUFFER_H

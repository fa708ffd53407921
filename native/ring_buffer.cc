#include "ring_buffer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "common.h"
#include "object.h"

namespace eoa {

Napi::Function RingBuffer::Init(Napi::Env env) {
  return DefineClass(env, "RingBuffer",
                     {InstanceMethod<&RingBuffer::Consume>("consume"), InstanceMethod<&RingBuffer::Close>("close")});
}

RingBuffer::RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[2].IsFunction()) {
    throw Napi::TypeError::New(env, "RingBuffer(object, map, callback)");
  }
  BpfObject* object = BpfObject::Unwrap(info[0].As<Napi::Object>());
  if (object == nullptr) throw Napi::TypeError::New(env, "RingBuffer: object must be a BpfObject");
  name_ = RequireString(info, 1, "map");
  struct bpf_map* map = object->FindMap(env, name_);
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) throw Napi::TypeError::New(env, "map " + name_ + " is not a ring buffer");
  Capture capture;
  rb_ = ring_buffer__new(bpf_map__fd(map), &RingBuffer::OnSample, this, nullptr);
  int err = errno;
  if (rb_ == nullptr) throw BpfError(env, err, "cannot open ring buffer " + name_, capture.text());
  // The destructor does not run when a constructor throws: everything below releases what it made on failure.
  try {
    capture.Check(env);
    owner_ = Napi::Persistent(info[0].As<Napi::Object>());
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "ebpf-ringbuf");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "cannot get the event loop");
    auto poll = std::make_unique<uv_poll_t>();
    poll->data = this;
    int rc = uv_poll_init(loop, poll.get(), ring_buffer__epoll_fd(rb_));
    if (rc != 0) throw Napi::Error::New(env, "cannot poll ring buffer " + name_ + ": " + uv_strerror(rc));
    poll_ = poll.release();
    rc = uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnReadable);
    if (rc != 0) throw Napi::Error::New(env, "cannot poll ring buffer " + name_ + ": " + uv_strerror(rc));
  } catch (...) {
    Release();
    throw;
  }
}

RingBuffer::~RingBuffer() { Release(); }

int RingBuffer::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingBuffer*>(ctx);
  try {
    const uint32_t len = static_cast<uint32_t>(size);
    const size_t padded = (size + 7) & ~static_cast<size_t>(7);
    const size_t at = self->batch_.size();
    self->batch_.resize(at + 8 + padded);
    memcpy(self->batch_.data() + at, &len, 4);
    memset(self->batch_.data() + at + 4, 0, 4);
    memcpy(self->batch_.data() + at + 8, data, size);
    self->count_++;
    return 0;
  } catch (const std::exception& error) {
    snprintf(self->sample_failure_, sizeof(self->sample_failure_), "%s", error.what());
  } catch (...) {
    snprintf(self->sample_failure_, sizeof(self->sample_failure_), "unknown exception");
  }
  return -ENOMEM;  // stops ring_buffer__consume(), which returns it
}

// Drains the ring buffer and hands the batch to JS. `from_loop`: called from the uv poll, outside any JS frame.
// Events taken before a failure are delivered first, then the failure is thrown.
void RingBuffer::Drain(Napi::Env env, bool from_loop) {
  if (rb_ == nullptr) return;
  batch_.clear();
  count_ = 0;
  sample_failure_[0] = '\0';
  int n = ring_buffer__consume(rb_);
  if (count_ > 0) {
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, batch_.size());
    memcpy(buffer.Data(), batch_.data(), batch_.size());
    std::vector<napi_value> args = {buffer, Napi::Number::New(env, static_cast<double>(count_))};
    if (from_loop) {
      callback_.MakeCallback(Value(), args, *context_);
    } else {
      callback_.Call(Value(), args);
    }
  }
  if (sample_failure_[0] != '\0') {
    throw Napi::Error::New(env, "cannot take events from ring buffer " + name_ + ": " + sample_failure_);
  }
  if (n < 0) throw BpfError(env, n, "cannot consume ring buffer " + name_);
}

namespace {

// Raises `message` as an uncaught exception of the process with the C API alone: nothing here can throw.
void RaiseFromLoop(napi_env env, const char* message) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value text;
  napi_value error;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) == napi_ok &&
      napi_create_error(env, nullptr, text, &error) == napi_ok) {
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

}  // namespace

void RingBuffer::OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<RingBuffer*>(handle->data);
  if (self == nullptr || status < 0) return;
  napi_env env = self->env_;
  char message[512];
  try {
    Napi::HandleScope scope(env);
    try {
      self->Drain(env, true);
      return;
    } catch (const Napi::Error& error) {
      // A JS error (the callback threw, or a consume error): to the process as an uncaught exception.
      napi_fatal_exception(env, error.Value());
      return;
    }
  } catch (const std::exception& error) {
    snprintf(message, sizeof(message), "ring buffer delivery failed: %s", error.what());
  } catch (...) {
    snprintf(message, sizeof(message), "ring buffer delivery failed");
  }
  RaiseFromLoop(env, message);
}

// consume(): drain now, synchronously (the collector drains before reading maps so events precede counts).
Napi::Value RingBuffer::Consume(const Napi::CallbackInfo& info) {
  Drain(info.Env(), false);
  return info.Env().Undefined();
}

Napi::Value RingBuffer::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

void RingBuffer::Release() {
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
  if (rb_ != nullptr) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
  if (!owner_.IsEmpty()) owner_.Reset();
  if (!callback_.IsEmpty()) callback_.Reset();
}

}  // namespace eoa

#include "link.h"

#include <unistd.h>

#include "common.h"

namespace eoa {

Napi::Function Link::Init(Napi::Env env) {
  return DefineClass(env, "Link", {InstanceMethod<&Link::Destroy>("destroy"), InstanceAccessor<&Link::Fd>("fd")});
}

Napi::Object Link::Wrap(Napi::Env env, struct bpf_link* link) { return New(env, Handle{link, -1}); }

Napi::Object Link::WrapFd(Napi::Env env, int fd) { return New(env, Handle{nullptr, fd}); }

// The handle travels as an External pointing at a stack value: the constructor copies it before New() returns.
// If the constructor is not reached (an exception on the way), the handle is released here.
Napi::Object Link::New(Napi::Env env, Handle handle) {
  Napi::Object object;
  try {
    object = env.GetInstanceData<AddonData>()->link_ctor.New({Napi::External<Handle>::New(env, &handle)});
  } catch (...) {
    if (handle.link != nullptr) bpf_link__destroy(handle.link);
    if (handle.fd >= 0) close(handle.fd);
    throw;
  }
  return object;
}

Link::Link(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Link>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "Link cannot be constructed from JavaScript: attach a program instead");
  }
  Handle* handle = info[0].As<Napi::External<Handle>>().Data();
  link_ = handle->link;
  fd_ = handle->fd;
  handle->link = nullptr;
  handle->fd = -1;
}

Link::~Link() { Release(); }

void Link::Release() {
  if (link_ != nullptr) {
    bpf_link__destroy(link_);
    link_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

Napi::Value Link::Destroy(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value Link::Fd(const Napi::CallbackInfo& info) {
  int fd = link_ != nullptr ? bpf_link__fd(link_) : fd_;
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace eoa

// Link: one attachment. Either a libbpf bpf_link or a raw BPF link fd (XDP links made with bpf_link_create so the
// mode flags can be given, the BPF_ENABLE_STATS handle). Both are kernel objects released when the fd closes, also
// when the process is killed: the kernel then detaches the program. Nothing is pinned.

#ifndef EOA_NATIVE_LINK_H
#define EOA_NATIVE_LINK_H

#include <napi.h>

#include <bpf/libbpf.h>

namespace eoa {

class Link : public Napi::ObjectWrap<Link> {
 public:
  static Napi::Function Init(Napi::Env env);

  // The only ways to make a Link: native code hands over what it attached. The JS constructor takes an External
  // only these can make, so `new Link()` from JS is a TypeError (as node-usb guards its Device and Transfer).
  static Napi::Object Wrap(Napi::Env env, struct bpf_link* link);
  static Napi::Object WrapFd(Napi::Env env, int fd);

  explicit Link(const Napi::CallbackInfo& info);
  ~Link() override;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

 private:
  struct Handle {
    struct bpf_link* link;
    int fd;
  };
  static Napi::Object New(Napi::Env env, Handle handle);

  void Release();
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);

  struct bpf_link* link_ = nullptr;
  int fd_ = -1;
};

}  // namespace eoa

#endif  // EOA_NATIVE_LINK_H

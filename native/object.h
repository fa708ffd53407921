// BpfObject: one .bpf.o. open → (setMaxEntries, setGlobal) → load → attach/read/delete → close. The destructor
// closes it, so a forgotten close() leaks nothing; closing also destroys the Map readers it made.

#ifndef EOA_NATIVE_OBJECT_H
#define EOA_NATIVE_OBJECT_H

#include <napi.h>

#include <bpf/libbpf.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "map.h"

namespace eoa {

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env);

  // new BpfObject(path, { btfPath?: string, debug?: boolean })
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;
  BpfObject(const BpfObject&) = delete;
  BpfObject& operator=(const BpfObject&) = delete;

  struct bpf_map* FindMap(Napi::Env env, const std::string& name) const;

 private:
  void Release();
  void RequireOpen(Napi::Env env) const;
  struct bpf_program* FindProgram(Napi::Env env, const std::string& name) const;
  Map& MapNamed(Napi::Env env, const std::string& name);

  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info);
  Napi::Value SetGlobal(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value AttachXdp(const Napi::CallbackInfo& info);
  Napi::Value AttachTcx(const Napi::CallbackInfo& info);
  Napi::Value AttachCpuClock(const Napi::CallbackInfo& info);
  Napi::Value ReadMap(const Napi::CallbackInfo& info);
  Napi::Value DeleteKeys(const Napi::CallbackInfo& info);
  Napi::Value UpdateElems(const Napi::CallbackInfo& info);
  Napi::Value ProgramInfo(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  struct bpf_object* obj_ = nullptr;
  std::string path_;
  bool debug_ = false;
  std::unordered_map<std::string, std::unique_ptr<Map>> maps_;
};

}  // namespace eoa

#endif  // EOA_NATIVE_OBJECT_H

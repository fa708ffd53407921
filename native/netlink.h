// Network facts from rtnetlink, read in the agent's own network namespace: the interfaces (with a veth's peer:
// its ifindex and the id this namespace gives the peer's namespace), and the id of another namespace given by a
// file (/proc/<pid>/ns/net). Enough to tell which host-side veth belongs to which process's network namespace
// without entering it (setns would need CAP_SYS_ADMIN).

#ifndef EOA_NATIVE_NETLINK_H
#define EOA_NATIVE_NETLINK_H

#include <napi.h>

namespace eoa {

// links() → [{ ifindex, name, kind, up, peerIfindex, peerNetnsId }] (kind "" when the driver reports none;
// peerIfindex 0 and peerNetnsId -1 when there is no peer in another namespace).
Napi::Value Links(const Napi::CallbackInfo& info);

// netnsId(path) → the id of the network namespace of the file in this namespace (allocated if it has none yet);
// throws with errno when the file cannot be opened (EACCES/EPERM: ptrace access to its process is needed).
Napi::Value NetnsId(const Napi::CallbackInfo& info);

}  // namespace eoa

#endif  // EOA_NATIVE_NETLINK_H

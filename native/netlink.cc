#include "netlink.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace eoa {
namespace {

// A NETLINK_ROUTE socket closed when it goes out of scope.
class RouteSocket {
 public:
  RouteSocket() : fd_(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {}
  ~RouteSocket() {
    if (fd_ >= 0) close(fd_);
  }
  RouteSocket(const RouteSocket&) = delete;
  RouteSocket& operator=(const RouteSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct LinkInfo {
  uint32_t ifindex = 0;
  std::string name;
  std::string kind;
  bool up = false;
  uint32_t peer_ifindex = 0;
  int32_t peer_netns_id = -1;
};

void ParseLink(struct nlmsghdr* h, std::vector<LinkInfo>* out) {
  auto* ifi = static_cast<struct ifinfomsg*>(NLMSG_DATA(h));
  LinkInfo link;
  link.ifindex = static_cast<uint32_t>(ifi->ifi_index);
  link.up = (ifi->ifi_flags & IFF_UP) != 0;
  int len = static_cast<int>(h->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(*ifi)));
  for (struct rtattr* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    switch (a->rta_type) {
      case IFLA_IFNAME: link.name = static_cast<const char*>(RTA_DATA(a)); break;
      case IFLA_LINK: memcpy(&link.peer_ifindex, RTA_DATA(a), sizeof(uint32_t)); break;
      case IFLA_LINK_NETNSID: memcpy(&link.peer_netns_id, RTA_DATA(a), sizeof(int32_t)); break;
      case IFLA_LINKINFO: {
        int inner = static_cast<int>(RTA_PAYLOAD(a));
        for (struct rtattr* b = static_cast<struct rtattr*>(RTA_DATA(a)); RTA_OK(b, inner); b = RTA_NEXT(b, inner)) {
          if (b->rta_type == IFLA_INFO_KIND) link.kind = static_cast<const char*>(RTA_DATA(b));
        }
        break;
      }
      default: break;
    }
  }
  // IFLA_LINK without IFLA_LINK_NETNSID names a lower device in this namespace (a VLAN's): no foreign peer.
  if (link.peer_netns_id < 0) link.peer_ifindex = 0;
  out->push_back(link);
}

// Sends one request and reads the answer (every part of a dump) into `on_message`; returns 0 or -errno.
template <typename F>
int Request(int fd, struct nlmsghdr* request, F on_message) {
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, request, request->nlmsg_len, 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    return -errno;
  }
  std::vector<char> buffer(1 << 16);
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<struct nlmsghdr*>(buffer.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != request->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<struct nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0 && (request->nlmsg_flags & NLM_F_DUMP) == 0) return 0;
        return e->error;
      }
      on_message(h);
      if ((request->nlmsg_flags & NLM_F_DUMP) == 0) return 0;
    }
  }
}

}  // namespace

Napi::Value Links(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RouteSocket sock;
  if (sock.fd() < 0) throw BpfError(env, errno, "cannot open a netlink socket");
  struct {
    struct nlmsghdr h;
    struct ifinfomsg ifi;
  } request;
  memset(&request, 0, sizeof(request));
  request.h.nlmsg_len = NLMSG_LENGTH(sizeof(request.ifi));
  request.h.nlmsg_type = RTM_GETLINK;
  request.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.h.nlmsg_seq = 1;
  request.ifi.ifi_family = AF_UNSPEC;
  std::vector<LinkInfo> links;
  int err = Request(sock.fd(), &request.h, [&](struct nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) ParseLink(h, &links);
  });
  if (err != 0) throw BpfError(env, -err, "cannot list the network interfaces");
  Napi::Array out = Napi::Array::New(env, links.size());
  for (size_t i = 0; i < links.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ifindex", static_cast<double>(links[i].ifindex));
    o.Set("name", links[i].name);
    o.Set("kind", links[i].kind);
    o.Set("up", links[i].up);
    o.Set("peerIfindex", static_cast<double>(links[i].peer_ifindex));
    o.Set("peerNetnsId", static_cast<double>(links[i].peer_netns_id));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value NetnsId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = RequireString(info, 0, "path");
  int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) throw BpfError(env, errno, "cannot open network namespace " + path);
  RouteSocket sock;
  if (sock.fd() < 0) {
    int e = errno;
    close(ns);
    throw BpfError(env, e, "cannot open a netlink socket");
  }
  // RTM_NEWNSID first (allocates an id if the namespace has none; EEXIST when it has one), then RTM_GETNSID.
  struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
    char attrs[64];
  } request;
  int32_t id = -1;
  for (int type : {RTM_NEWNSID, RTM_GETNSID}) {
    memset(&request, 0, sizeof(request));
    request.h.nlmsg_type = static_cast<uint16_t>(type);
    request.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    request.h.nlmsg_seq = static_cast<uint32_t>(type);
    request.g.rtgen_family = AF_UNSPEC;
    size_t offset = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(request.g)));
    auto add = [&](uint16_t attr, int32_t value) {
      auto* a = reinterpret_cast<struct rtattr*>(reinterpret_cast<char*>(&request) + offset);
      a->rta_type = attr;
      a->rta_len = RTA_LENGTH(sizeof(value));
      memcpy(RTA_DATA(a), &value, sizeof(value));
      offset += RTA_ALIGN(a->rta_len);
    };
    add(NETNSA_FD, ns);
    if (type == RTM_NEWNSID) add(NETNSA_NSID, -1);
    request.h.nlmsg_len = static_cast<uint32_t>(offset);
    int err = Request(sock.fd(), &request.h, [&](struct nlmsghdr* h) {
      if (h->nlmsg_type != RTM_NEWNSID) return;
      int len = static_cast<int>(h->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(struct rtgenmsg)));
      auto* a = reinterpret_cast<struct rtattr*>(static_cast<char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(struct rtgenmsg)));
      for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == NETNSA_NSID) memcpy(&id, RTA_DATA(a), sizeof(id));
      }
    });
    if (type == RTM_NEWNSID && err != 0 && err != -EEXIST && err != -EPERM) {
      close(ns);
      throw BpfError(env, -err, "cannot give network namespace " + path + " an id");
    }
    if (type == RTM_GETNSID && err != 0) {
      close(ns);
      throw BpfError(env, -err, "cannot read the id of network namespace " + path);
    }
  }
  close(ns);
  return Napi::Number::New(env, id);
}

}  // namespace eoa

// berth's native helpers: the few system calls Node.js has no binding for.
//
//   mount(source, target, fstype, flags, data)   mount(2); throws an Error with .code = errno name
//   umount(target, flags)                        umount2(2)
//   mknod(path, mode, major, minor)              mknod(2), for device nodes and overlay whiteouts
//   lgetxattr(path, name)                        a Buffer, or null when the attribute is absent
//   lsetxattr(path, name, value)                 lsetxattr(2)
//   seqpacketBridge(path)                        connects to a SOCK_SEQPACKET unix socket (conmon's
//                                                attach socket) and returns the fd of a SOCK_STREAM
//                                                socket that carries the same traffic, framed:
//                                                  from the seqpacket side: [u32 big-endian length][packet]
//                                                  to the seqpacket side:   raw bytes, one packet per read
//                                                EOF on either side is passed on as a half-close.
//   netnsSocket(netns, proto, address, port)     a socket (proto 'udp' or 'tcp', IPv4) bound to
//                                                address:port inside the network namespace of the
//                                                file netns (0: a free port), listening when tcp;
//                                                returns its fd. The embedded DNS listens inside
//                                                each container's namespace this way, as dockerd's.
//
// libuv cannot wrap a SOCK_SEQPACKET socket, and packet boundaries matter (each of conmon's
// packets starts with its stream id), so a small thread per bridge shuttles between the two.
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_STR 4096
#define PACKET_MAX 65536

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ENOTDIR: return "ENOTDIR";
    case ENODEV: return "ENODEV";
    case ENOMEM: return "ENOMEM";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSPC: return "ENOSPC";
    case ELOOP: return "ELOOP";
    case EROFS: return "EROFS";
    case EEXIST: return "EEXIST";
    case ENOTSUP: return "ENOTSUP";
    case ENODATA: return "ENODATA";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall, const char *path, int e) {
  char msg[MAX_STR + 128];
  snprintf(msg, sizeof msg, "%s %s: %s", syscall, path ? path : "", strerror(e));
  napi_value code, message, err;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_value errnum;
  napi_create_int32(env, -e, &errnum);
  napi_set_named_property(env, err, "errno", errnum);
  napi_throw(env, err);
  return NULL;
}

// Reads argument i as a string into buf, or leaves buf NULL when the argument is null/undefined.
static int get_opt_string(napi_env env, napi_value v, char *buf, size_t size, int *present) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) {
    *present = 0;
    return 0;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return -1;
  if (len >= size - 1) return -1;
  *present = 1;
  return 0;
}

static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  static char source[MAX_STR], target[MAX_STR], fstype[256];
  char *data = malloc(PACKET_MAX);
  if (!data) return throw_errno(env, "mount", NULL, ENOMEM);
  int has_source, has_target, has_fstype, has_data;
  uint32_t flags;
  if (get_opt_string(env, argv[0], source, sizeof source, &has_source) ||
      get_opt_string(env, argv[1], target, sizeof target, &has_target) || !has_target ||
      get_opt_string(env, argv[2], fstype, sizeof fstype, &has_fstype) ||
      napi_get_value_uint32(env, argv[3], &flags) != napi_ok ||
      get_opt_string(env, argv[4], data, PACKET_MAX, &has_data)) {
    free(data);
    napi_throw_type_error(env, NULL, "mount: bad arguments or an argument too long");
    return NULL;
  }
  int rc = mount(has_source ? source : NULL, target, has_fstype ? fstype : NULL, flags,
                 has_data ? data : NULL);
  int e = errno;
  free(data);
  if (rc != 0) return throw_errno(env, "mount", target, e);
  return NULL;
}

static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  static char target[MAX_STR];
  int has_target;
  uint32_t flags = 0;
  if (argc < 1 || get_opt_string(env, argv[0], target, sizeof target, &has_target) ||
      !has_target || (argc > 1 && napi_get_value_uint32(env, argv[1], &flags) != napi_ok)) {
    napi_throw_type_error(env, NULL, "umount(target, flags)");
    return NULL;
  }
  if (umount2(target, (int)flags) != 0) return throw_errno(env, "umount", target, errno);
  return NULL;
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  static char path[MAX_STR];
  int has_path;
  uint32_t mode, major, minor;
  if (argc < 4 || get_opt_string(env, argv[0], path, sizeof path, &has_path) || !has_path ||
      napi_get_value_uint32(env, argv[1], &mode) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &major) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &minor) != napi_ok) {
    napi_throw_type_error(env, NULL, "mknod(path, mode, major, minor)");
    return NULL;
  }
  if (mknod(path, (mode_t)mode, makedev(major, minor)) != 0)
    return throw_errno(env, "mknod", path, errno);
  return NULL;
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  static char path[MAX_STR], name[256];
  int has_path, has_name;
  if (argc < 2 || get_opt_string(env, argv[0], path, sizeof path, &has_path) || !has_path ||
      get_opt_string(env, argv[1], name, sizeof name, &has_name) || !has_name) {
    napi_throw_type_error(env, NULL, "lgetxattr(path, name)");
    return NULL;
  }
  char value[PACKET_MAX];
  ssize_t n = lgetxattr(path, name, value, sizeof value);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return throw_errno(env, "lgetxattr", path, errno);
  }
  napi_value result;
  void *data;
  napi_create_buffer_copy(env, (size_t)n, value, &data, &result);
  return result;
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  static char path[MAX_STR], name[256];
  int has_path, has_name;
  void *data = NULL;
  size_t len = 0;
  if (argc < 3 || get_opt_string(env, argv[0], path, sizeof path, &has_path) || !has_path ||
      get_opt_string(env, argv[1], name, sizeof name, &has_name) || !has_name ||
      napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "lsetxattr(path, name, buffer)");
    return NULL;
  }
  if (lsetxattr(path, name, data, len, 0) != 0) return throw_errno(env, "lsetxattr", path, errno);
  return NULL;
}

struct bridge {
  int packet_fd;
  int stream_fd;
};

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static void *bridge_main(void *arg) {
  struct bridge *b = arg;
  char *buf = malloc(PACKET_MAX + 4);
  int packet_open = 1, stream_open = 1;
  while (buf && (packet_open || stream_open)) {
    struct pollfd fds[2] = {
        {.fd = packet_open ? b->packet_fd : -1, .events = POLLIN},
        {.fd = stream_open ? b->stream_fd : -1, .events = POLLIN},
    };
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (packet_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = recv(b->packet_fd, buf + 4, PACKET_MAX, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        packet_open = 0;
        shutdown(b->stream_fd, SHUT_WR);
        // Once the container's side has gone, nothing more can be delivered to it.
        if (n < 0) break;
      } else {
        uint32_t len = (uint32_t)n;
        buf[0] = (char)(len >> 24);
        buf[1] = (char)(len >> 16);
        buf[2] = (char)(len >> 8);
        buf[3] = (char)len;
        if (write_all(b->stream_fd, buf, (size_t)n + 4) != 0) break;
      }
    }
    if (stream_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(b->stream_fd, buf, 8192);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        stream_open = 0;
        shutdown(b->packet_fd, SHUT_WR);
        if (n < 0) break;
      } else if (packet_open && send(b->packet_fd, buf, (size_t)n, MSG_NOSIGNAL) < 0) {
        break;
      }
    }
    if (!packet_open && !stream_open) break;
    if (!packet_open && (fds[1].revents & POLLHUP)) break;
  }
  free(buf);
  close(b->packet_fd);
  close(b->stream_fd);
  free(b);
  return NULL;
}

static napi_value js_seqpacket_bridge(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path,
                                             &len) != napi_ok ||
      len >= sizeof addr.sun_path - 1) {
    napi_throw_type_error(env, NULL, "seqpacketBridge(path): path missing or too long");
    return NULL;
  }
  int pfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (pfd < 0) return throw_errno(env, "socket", addr.sun_path, errno);
  if (connect(pfd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int e = errno;
    close(pfd);
    return throw_errno(env, "connect", addr.sun_path, e);
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    int e = errno;
    close(pfd);
    return throw_errno(env, "socketpair", NULL, e);
  }
  struct bridge *b = malloc(sizeof *b);
  if (!b) {
    close(pfd);
    close(pair[0]);
    close(pair[1]);
    return throw_errno(env, "malloc", NULL, ENOMEM);
  }
  b->packet_fd = pfd;
  b->stream_fd = pair[1];
  pthread_t tid;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int rc = pthread_create(&tid, &attr, bridge_main, b);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    close(pfd);
    close(pair[0]);
    close(pair[1]);
    free(b);
    return throw_errno(env, "pthread_create", NULL, rc);
  }
  napi_value result;
  napi_create_int32(env, pair[0], &result);
  return result;
}

// A socket belongs to the namespace it is made in; setns(2) on a short-lived thread of our own
// keeps the namespace of every other thread (and libuv's) as it is.
struct netns_socket {
  int ns_fd;
  int tcp;
  struct sockaddr_in addr;
  int fd;
  int err;
  const char *step;
};

static void *netns_socket_main(void *arg) {
  struct netns_socket *j = arg;
  j->fd = -1;
  if (setns(j->ns_fd, CLONE_NEWNET) != 0) {
    j->err = errno;
    j->step = "setns";
    return NULL;
  }
  int fd = socket(AF_INET, (j->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    j->err = errno;
    j->step = "socket";
    return NULL;
  }
  if (bind(fd, (struct sockaddr *)&j->addr, sizeof j->addr) != 0) {
    j->err = errno;
    j->step = "bind";
    close(fd);
    return NULL;
  }
  if (j->tcp && listen(fd, 511) != 0) {
    j->err = errno;
    j->step = "listen";
    close(fd);
    return NULL;
  }
  j->fd = fd;
  return NULL;
}

static napi_value js_netns_socket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  static char ns[MAX_STR];
  char proto[8], address[64];
  int has_ns, has_proto, has_address;
  uint32_t port;
  if (argc < 4 || get_opt_string(env, argv[0], ns, sizeof ns, &has_ns) || !has_ns ||
      get_opt_string(env, argv[1], proto, sizeof proto, &has_proto) || !has_proto ||
      get_opt_string(env, argv[2], address, sizeof address, &has_address) || !has_address ||
      napi_get_value_uint32(env, argv[3], &port) != napi_ok || port > 65535 ||
      (strcmp(proto, "udp") != 0 && strcmp(proto, "tcp") != 0)) {
    napi_throw_type_error(env, NULL, "netnsSocket(netns, 'udp' | 'tcp', ipv4, port)");
    return NULL;
  }
  struct netns_socket j = {.tcp = strcmp(proto, "tcp") == 0};
  j.addr.sin_family = AF_INET;
  j.addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &j.addr.sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "netnsSocket: not an IPv4 address");
    return NULL;
  }
  j.ns_fd = open(ns, O_RDONLY | O_CLOEXEC);
  if (j.ns_fd < 0) return throw_errno(env, "open", ns, errno);
  pthread_t tid;
  int rc = pthread_create(&tid, NULL, netns_socket_main, &j);
  if (rc != 0) {
    close(j.ns_fd);
    return throw_errno(env, "pthread_create", NULL, rc);
  }
  pthread_join(tid, NULL);
  close(j.ns_fd);
  if (j.fd < 0) return throw_errno(env, j.step, ns, j.err);
  napi_value result;
  napi_create_int32(env, j.fd, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
      {"seqpacketBridge", NULL, js_seqpacket_bridge, NULL, NULL, NULL, napi_default, NULL},
      {"netnsSocket", NULL, js_netns_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

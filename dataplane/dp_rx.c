/*
 * dp_rx.c - the listener configuration shared by both receive backends, and
 * the names of protocols and drop causes. Start-up only.
 */
#include "dp_rx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cm_compiler.h"
#include "dp_line.h"

static const struct cm_cfg_key rx_keys[] = {
	{"statsd.listen", CM_CFG_STR, "127.0.0.1:8125", 0, 0, NULL, false,
	 "StatsD/DogStatsD over UDP: host:port, [v6]:port or :port (any address); port 0 disables"},
	{"line.udp_listen", CM_CFG_STR, "127.0.0.1:8089", 0, 0, NULL, false,
	 "InfluxDB line protocol over UDP (port 0 disables)"},
	{"line.tcp_listen", CM_CFG_STR, "127.0.0.1:8094", 0, 0, NULL, false,
	 "InfluxDB line protocol over TCP, newline-delimited (port 0 disables)"},
	{"binary.listen", CM_CFG_STR, "127.0.0.1:7100", 0, 0, NULL, false,
	 "binary frames (docs/formats/binary-frame.md) over UDP (port 0 disables)"},
	{"line.udp_precision", CM_CFG_ENUM, "ns", 0, 0, "ns|us|ms|s", false,
	 "unit of line-protocol timestamps received over UDP"},
	{"line.tcp_precision", CM_CFG_ENUM, "ns", 0, 0, "ns|us|ms|s", false,
	 "unit of line-protocol timestamps received over TCP"},
	{"dataplane.multicast_groups", CM_CFG_STR, "", 0, 0, NULL, false,
	 "IPv4 multicast groups the UDP listeners join, comma-separated"},
	{"dataplane.multicast_iface", CM_CFG_STR, "0.0.0.0", 0, 0, NULL, false,
	 "IPv4 address of the interface to join multicast groups on (0.0.0.0: the kernel's choice)"},
};

const struct cm_cfg_table dp_rx_cfg_table = {
	.module = "rx",
	.keys = rx_keys,
	.nkeys = CM_ARRAY_SIZE(rx_keys),
};

/* The listeners: config key, decoder, transport, precision key. */
static const struct {
	const char *key;
	uint8_t proto;
	bool tcp;
	const char *precision;
} listeners[DP_LISTEN__COUNT] = {
	[DP_LISTEN_STATSD_UDP] = {"statsd.listen", DP_PROTO_STATSD, false, NULL},
	[DP_LISTEN_LINE_UDP] = {"line.udp_listen", DP_PROTO_LINE, false, "line.udp_precision"},
	[DP_LISTEN_LINE_TCP] = {"line.tcp_listen", DP_PROTO_LINE, true, "line.tcp_precision"},
	[DP_LISTEN_BINARY_UDP] = {"binary.listen", DP_PROTO_BINARY, false, NULL},
};

const char *dp_listener_key(enum dp_listener_id id)
{
	return (unsigned)id < DP_LISTEN__COUNT ? listeners[id].key : "unknown";
}

const char *dp_proto_name(enum dp_proto p)
{
	static const char *const names[DP_PROTO__COUNT] = {"statsd", "line", "binary"};
	return (unsigned)p < DP_PROTO__COUNT ? names[p] : "unknown";
}

const char *dp_rx_drop_name(enum dp_rx_drop d)
{
	static const char *const names[DP_RXD__COUNT] = {
		[DP_RXD_TRUNCATED] = "truncated",
		[DP_RXD_NO_BUFFER] = "no_buffer",
		[DP_RXD_KERNEL_OVERFLOW] = "kernel_overflow",
		[DP_RXD_LINE_TOO_LONG] = "line_too_long",
		[DP_RXD_NOT_IP] = "not_ip",
		[DP_RXD_NOT_UDP] = "not_udp",
		[DP_RXD_FRAGMENT] = "fragment",
		[DP_RXD_BAD_HEADER] = "bad_header",
		[DP_RXD_BAD_LENGTH] = "bad_length",
		[DP_RXD_UNKNOWN_PORT] = "unknown_port",
		[DP_RXD_DST_FILTERED] = "dst_filtered",
		[DP_RXD_NIC_MISSED] = "nic_missed",
		[DP_RXD_NIC_NOMBUF] = "nic_nombuf",
		[DP_RXD_NIC_ERRORS] = "nic_errors",
	};
	return (unsigned)d < DP_RXD__COUNT && names[d] ? names[d] : "unknown";
}

int dp_listener_parse(const char *text, struct dp_listener *l)
{
	char host[64];
	const char *colon;
	size_t hlen;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - text - 1);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, hlen);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text, hlen);
	}
	host[hlen] = '\0';
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port > 65535)
		return -EINVAL;
	memset(l->addr, 0, sizeof(l->addr));
	if (hlen == 0) {
		l->family = AF_INET;  /* any IPv4 address */
	} else if (inet_pton(AF_INET, host, l->addr) == 1) {
		l->family = AF_INET;
	} else if (inet_pton(AF_INET6, host, l->addr) == 1) {
		l->family = AF_INET6;
	} else {
		return -EINVAL;
	}
	l->port = (uint16_t)port;
	l->enabled = port != 0;
	snprintf(l->text, sizeof(l->text), "%s", text);
	return 0;
}

static int parse_groups(const char *spec, struct dp_rx_cfg *cfg, char *err, size_t errlen)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", spec);
	cfg->nmcast = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		struct in_addr a;
		if (inet_pton(AF_INET, tok, &a) != 1 || !IN_MULTICAST(ntohl(a.s_addr))) {
			snprintf(err, errlen, "dataplane.multicast_groups: '%s' is not an IPv4 multicast group", tok);
			return -EINVAL;
		}
		if (cfg->nmcast == DP_MCAST_GROUPS_MAX) {
			snprintf(err, errlen, "dataplane.multicast_groups: more than %u groups",
				 DP_MCAST_GROUPS_MAX);
			return -EINVAL;
		}
		cfg->mcast[cfg->nmcast++] = a.s_addr;
	}
	return 0;
}

int dp_rx_cfg_from(const struct cm_config *config, struct dp_rx_cfg *cfg, char *err, size_t errlen)
{
	static const char *const units[] = {"ns", "us", "ms", "s"};
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_datagram_bytes = 65535;
	for (int i = 0; i < DP_LISTEN__COUNT; i++) {
		struct dp_listener *l = &cfg->listen[i];
		const char *text = cm_config_str(config, listeners[i].key);
		if (dp_listener_parse(text, l)) {
			snprintf(err, errlen, "%s: '%s' is not host:port, [v6]:port or :port", listeners[i].key,
				 text);
			return -EINVAL;
		}
		l->proto = listeners[i].proto;
		l->tcp = listeners[i].tcp;
		l->unit_ns = 1;
		if (listeners[i].precision)
			dp_line_precision(units[cm_config_enum(config, listeners[i].precision)], &l->unit_ns);
	}
	/* Two enabled UDP listeners on one port could not tell their traffic apart. */
	for (int i = 0; i < DP_LISTEN__COUNT; i++)
		for (int j = i + 1; j < DP_LISTEN__COUNT; j++) {
			const struct dp_listener *a = &cfg->listen[i], *b = &cfg->listen[j];
			if (a->enabled && b->enabled && a->tcp == b->tcp && a->port == b->port) {
				snprintf(err, errlen, "%s and %s share port %u", listeners[i].key, listeners[j].key,
					 a->port);
				return -EINVAL;
			}
		}
	struct in_addr ifa;
	if (inet_pton(AF_INET, cm_config_str(config, "dataplane.multicast_iface"), &ifa) != 1) {
		snprintf(err, errlen, "dataplane.multicast_iface: '%s' is not an IPv4 address",
			 cm_config_str(config, "dataplane.multicast_iface"));
		return -EINVAL;
	}
	cfg->mcast_iface = ifa.s_addr;
	return parse_groups(cm_config_str(config, "dataplane.multicast_groups"), cfg, err, errlen);
}

void dp_rx_ctrs_sum(const struct dp_rx_ctrs *c, struct dp_rx_stats *out)
{
	out->packets += atomic_load_explicit(&c->packets, memory_order_relaxed);
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		out->msgs[p] += atomic_load_explicit(&c->msgs[p], memory_order_relaxed);
		out->bytes[p] += atomic_load_explicit(&c->bytes[p], memory_order_relaxed);
	}
	for (int d = 0; d < DP_RXD__COUNT; d++)
		out->drops[d] += atomic_load_explicit(&c->drops[d], memory_order_relaxed);
}

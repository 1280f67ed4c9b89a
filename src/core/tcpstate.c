// SPDX-License-Identifier: LGPL-2.1-or-later
/* The TCP states: their names, and which ones libsoccr saves and restores. */
#include <netinet/tcp.h>

#include <soccr/image.h>

#include "core/core.h"

static const char *const state_names[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED",
	[TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECV",
	[TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TCP_FIN_WAIT2] = "FIN_WAIT2",
	[TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE",
	[TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK",
	[TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
};

/* Every state in which a process holds a connection with sequence numbers to carry over. */
#define SUPPORTED                                                                                  \
	(SOCCR_SF(TCP_ESTABLISHED) | SOCCR_SF(TCP_SYN_SENT) | SOCCR_SF(TCP_FIN_WAIT1) |            \
	 SOCCR_SF(TCP_FIN_WAIT2) | SOCCR_SF(TCP_CLOSE) | SOCCR_SF(TCP_CLOSE_WAIT) |                \
	 SOCCR_SF(TCP_LAST_ACK) | SOCCR_SF(TCP_CLOSING))

SOCCR_API const char *soccr_tcp_state_name(unsigned int state)
{
	if (state < ARRAY_SIZE(state_names) && state_names[state])
		return state_names[state];
	return "UNKNOWN";
}

bool sc_state_supported(unsigned int state)
{
	return state < 32 && (SOCCR_SF(state) & SUPPORTED);
}

SOCCR_API int soccr_image_state_supported(unsigned int state)
{
	return sc_state_supported(state);
}

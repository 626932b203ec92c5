using System.Net;

namespace Ipop.Tincan.Turn;

/// <summary>
/// Receives data relayed from <paramref name="peer"/>. Called on the socket's receive thread; the span
/// is only valid during the call. On the ChannelData path <paramref name="peer"/> is the channel's cached
/// endpoint (no allocation).
/// </summary>
internal delegate void TurnDataHandler(TurnAllocation allocation, IPEndPoint peer, ReadOnlySpan<byte> payload);

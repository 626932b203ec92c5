using System.Net;

namespace Ipop.Tincan.Stun;

/// <summary>A server-reflexive address: what <paramref name="Server"/> saw as our source address.</summary>
internal sealed record StunBindingResult(StunServerEndpoint Server, IPEndPoint ServerAddress, IPEndPoint Mapped);

using System.Globalization;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Api.Internal;

/// <summary>The wire names of enums and addresses: fixed strings, never <c>Enum.ToString()</c>, so a rename in C# cannot change the protocol.</summary>
internal static class Names
{
    public static string State(LinkState state) => state switch
    {
        LinkState.Connecting => "connecting",
        LinkState.Connected => "connected",
        LinkState.Failed => "failed",
        LinkState.Closed => "closed",
        _ => "unknown",
    };

    public static string Path(LinkPath path) => path switch
    {
        LinkPath.None => "none",
        LinkPath.DirectHost => "direct_host",
        LinkPath.DirectServerReflexive => "direct_server_reflexive",
        LinkPath.DirectPeerReflexive => "direct_peer_reflexive",
        LinkPath.Relayed => "relayed",
        _ => "unknown",
    };

    public static string Reason(LinkFailureReason reason) => reason switch
    {
        LinkFailureReason.None => "none",
        LinkFailureReason.NoCandidates => "no_candidates",
        LinkFailureReason.TurnAuthenticationFailed => "turn_authentication_failed",
        LinkFailureReason.ChecksTimedOut => "checks_timed_out",
        LinkFailureReason.HandshakeTimedOut => "handshake_timed_out",
        LinkFailureReason.UnknownKey => "unknown_key",
        LinkFailureReason.PeerUnreachable => "peer_unreachable",
        LinkFailureReason.Revoked => "revoked",
        LinkFailureReason.Shutdown => "shutdown",
        _ => "unknown",
    };

    public static string Candidate(CandidateType type) => type switch
    {
        CandidateType.Host => "host",
        CandidateType.ServerReflexive => "srflx",
        CandidateType.PeerReflexive => "prflx",
        _ => "relay",
    };

    public static string Mode(VirtualInterfaceMode mode) => mode == VirtualInterfaceMode.Tap ? "tap" : "tun";

    /// <summary>Lower-case, colon-separated (<c>02:00:5e:00:53:01</c>).</summary>
    public static string Mac(PhysicalAddress mac) => string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>Parses six hex octets separated by ':' or '-'.</summary>
    public static bool TryParseMac(string text, out PhysicalAddress mac)
    {
        mac = PhysicalAddress.None;
        string[] parts = text.Split(':', '-');
        if (parts.Length != 6)
        {
            return false;
        }

        byte[] bytes = new byte[6];
        for (int i = 0; i < 6; i++)
        {
            if (parts[i].Length != 2 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }

        mac = new PhysicalAddress(bytes);
        return true;
    }
}

namespace Ipop.Tincan.Protocol;

/// <summary>What a transport packet carries (authenticated as part of the header).</summary>
internal enum ContentKind : byte
{
    /// <summary>An IP packet or Ethernet frame for the virtual interface.</summary>
    Packet = 0,

    /// <summary>A controller-to-controller message (IPOP's ICC).</summary>
    Control = 1,

    /// <summary>An empty keepalive (keeps NAT mappings and liveness).</summary>
    Keepalive = 2,
}

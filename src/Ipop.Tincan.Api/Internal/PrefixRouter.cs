using System.Net;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// The built-in TUN router: the data plane's own <see cref="RouteTable"/> (longest prefix wins; inbound packets
/// are accepted only when their source routes back to the link they came on) behind the API's router contract.
/// </summary>
internal sealed class PrefixRouter : IControllerRouter
{
    private readonly RouteTable _table = new();

    /// <summary>
    /// What the server attaches to Tincan instead of this wrapper: Tincan sends the ICMP errors it originates while
    /// forwarding from the node's own (local) address only when its router is a <see cref="RouteTable"/>
    /// (docs/routing.md, "Answers"); behind a wrapper a traceroute would name the destination instead of the hop.
    /// </summary>
    public RouteTable Table => _table;

    public RouteDecision RouteOutbound(Span<byte> packet) => _table.RouteOutbound(packet);

    public bool AcceptInbound(ITincanLink from, Span<byte> packet) => _table.AcceptInbound(from, packet);

    // The table's own decision, so a host driven through the API forwards between its links like any RouteTable.
    public InboundDecision RouteInbound(ITincanLink from, Span<byte> packet) => _table.RouteInbound(from, packet);

    public void SetRoute(IPNetwork prefix, ITincanLink link) => _table.SetRoute(prefix, link);

    public bool RemoveRoute(IPNetwork prefix) => _table.RemoveRoute(prefix);

    public void RemoveRoutes(ITincanLink link) => _table.RemoveRoutes(link);

    public void SetForwardingRoute(IPNetwork prefix, ITincanLink nextHop) => _table.SetForwardingRoute(prefix, nextHop);

    public void SetLocal(IPNetwork prefix) => _table.SetLocal(prefix);

    public void SetUnreachable(IPNetwork prefix) => _table.SetUnreachable(prefix);

    public long? GetForwardedPackets(IPNetwork prefix) => _table.GetForwardedPackets(prefix);

    public void SetMacRoute(PhysicalAddress mac, ITincanLink link) => throw new NotSupportedException("A TUN interface routes by IP prefix, not by MAC address.");

    public bool RemoveMacRoute(PhysicalAddress mac) => throw new NotSupportedException("A TUN interface routes by IP prefix, not by MAC address.");
}

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

    public RouteDecision RouteOutbound(Span<byte> packet) => _table.RouteOutbound(packet);

    public bool AcceptInbound(ITincanLink from, Span<byte> packet) => _table.AcceptInbound(from, packet);

    // The table's own decision, so a host driven through the API forwards between its links like any RouteTable.
    public InboundDecision RouteInbound(ITincanLink from, Span<byte> packet) => _table.RouteInbound(from, packet);

    public void SetRoute(IPNetwork prefix, ITincanLink link) => _table.SetRoute(prefix, link);

    public bool RemoveRoute(IPNetwork prefix) => _table.RemoveRoute(prefix);

    public void RemoveRoutes(ITincanLink link) => _table.RemoveRoutes(link);

    public void SetMacRoute(PhysicalAddress mac, ITincanLink link) => throw new NotSupportedException("A TUN interface routes by IP prefix, not by MAC address.");

    public bool RemoveMacRoute(PhysicalAddress mac) => throw new NotSupportedException("A TUN interface routes by IP prefix, not by MAC address.");
}

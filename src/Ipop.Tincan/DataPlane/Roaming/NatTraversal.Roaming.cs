using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Turn;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// After the underlay moved: the server-reflexive addresses are asked for again, and a TURN allocation whose 5-tuple
/// is gone (our source address toward the server changed, so the server would answer a new client with 437
/// Allocation Mismatch) is replaced at once instead of after its next failed refresh.
/// </summary>
internal sealed partial class NatTraversal
{
    // The source address our allocation was made from (the kernel's choice toward the server).
    private IPAddress? _allocationSource;

    /// <summary>Any thread: the local addresses changed.</summary>
    public void OnUnderlayChanged()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        lock (_gatherLock)
        {
            StartSrflx();
        }

        if (Allocation is not { } allocation)
        {
            return;
        }

        IPAddress? source = SourceToward(allocation.ServerAddress);
        if (source is null || source.Equals(_allocationSource))
        {
            return;
        }

        LogRelayMoved(_logger, allocation.Server, _allocationSource, source);
        ReplaceAllocation(allocation);
    }

    /// <summary>Any thread: asks every STUN server for our public address again (a gather then waits for the answers).</summary>
    public void RestartServerReflexive()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        lock (_gatherLock)
        {
            StartSrflx();
        }
    }

    /// <summary>
    /// The server-reflexive candidates as a comparable text (endpoints in order), to tell whether a re-gather found
    /// a new public address.
    /// </summary>
    internal string ServerReflexiveSignature => string.Join(',', _srflx.Select(c => c.EndPoint.ToString()));

    /// <summary>
    /// Any thread, after a re-gather found a new public address with no local address changed (a NAT's outside address
    /// or mapping changed): the TURN allocation was made through the old mapping, and the server would answer our
    /// refreshes from the new one with 437 Allocation Mismatch, so it is replaced now.
    /// </summary>
    public void OnPublicAddressChanged()
    {
        if (_stopping.IsCancellationRequested || Allocation is not { } allocation)
        {
            return;
        }

        LogRelayRemapped(_logger, allocation.Server);
        ReplaceAllocation(allocation);
    }

    private void ReplaceAllocation(TurnAllocation allocation)
    {
        if (!ReferenceEquals(Interlocked.CompareExchange(ref _allocation, null, allocation), allocation))
        {
            return; // replaced already
        }

        Volatile.Write(ref _relayedCandidate, null);
        _demux.Unregister(allocation);
        _ = ReleaseAsync(allocation);
        _allocationTask = ReplaceMovedAllocationAsync();
    }

    /// <summary>The source address the kernel picks toward <paramref name="server"/> now (a UDP connect sends nothing), or null without a route.</summary>
    internal static IPAddress? SourceToward(IPEndPoint server)
    {
        try
        {
            using var probe = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(server);
            return ((IPEndPoint)probe.LocalEndPoint!).Address;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private async Task<TurnAllocation?> ReplaceMovedAllocationAsync()
    {
        TurnAllocation? replacement = await AllocateAsync().ConfigureAwait(false);
        if (replacement is not null)
        {
            foreach (TincanLink link in _manager.LinkSnapshot)
            {
                PreparePeer(link, link.CandidatesFromDescriptor);
            }
        }

        return replacement;
    }

    // Best effort and bounded: from the new address the server may not know us any more; the old allocation then
    // times out on the server by itself.
    private static async Task ReleaseAsync(TurnAllocation allocation)
    {
        await WaitBoundedAsync(allocation.DisposeAsync().AsTask(), TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 146, Level = LogLevel.Information, Message = "Our public address changed with no local address changing (a NAT's mapping changed): allocating again on {Server}")]
    private static partial void LogRelayRemapped(ILogger logger, TurnServerEndpoint server);

    [LoggerMessage(EventId = 144, Level = LogLevel.Information, Message = "TURN allocation on {Server} was made from {Old}, the route there now leaves from {New}: allocating again")]
    private static partial void LogRelayMoved(ILogger logger, TurnServerEndpoint server, IPAddress? old, IPAddress? @new);
}

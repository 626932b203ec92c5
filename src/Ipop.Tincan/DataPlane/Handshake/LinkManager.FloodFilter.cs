using System.Net;
using Ipop.Tincan.DataPlane.Handshake;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The kernel side of the flood defence: addresses that send unproven initiations at a flooding rate get them dropped
/// by the socket's filter (<see cref="FloodSocketFilter"/>) before they take room in the receive queue.
/// </summary>
internal sealed partial class LinkManager
{
    private static readonly TimeSpan FloodFilterLogInterval = TimeSpan.FromSeconds(10);
    private readonly Lock _floodFilterLock = new();
    private long _floodFilterLoggedAt;
    private long _floodFilterChanges;

    // Receive thread: an initiation without mac2, from the socket (not through our relay).
    private void ObserveUnproven(HandshakeGate gate, SocketAddress from)
    {
        if (gate.Flooding.Observe(from))
        {
            ApplyFloodFilter(gate);
        }
    }

    // Receive thread (batch end) and the control loop's tick: unlists addresses whose flood stopped.
    internal void SweepFloodFilter()
    {
        HandshakeGate? gate = Volatile.Read(ref _handshakeGate);
        if (gate is not null && gate.Flooding.Listed > 0 && gate.Flooding.Sweep())
        {
            ApplyFloodFilter(gate);
        }
    }

    // Rare: only when the list changes. The list is read under the lock so that the last filter set is the newest.
    private void ApplyFloodFilter(HandshakeGate gate)
    {
        lock (_floodFilterLock)
        {
            IReadOnlyList<IPAddress> sources = gate.Flooding.Addresses();
            bool set = Mux?.SetFilter(FloodSocketFilter.Build(sources)) ?? false;
            long now = Time.GetTimestamp();
            _floodFilterChanges++;

            // One line per 10 s however often an attacker that starts and stops makes the list change.
            if (_floodFilterLoggedAt == 0 || Time.GetElapsedTime(_floodFilterLoggedAt, now) >= FloodFilterLogInterval)
            {
                _floodFilterLoggedAt = now;
                if (sources.Count == 0)
                {
                    LogFloodFilterCleared(_logger, _floodFilterChanges);
                }
                else
                {
                    LogFloodFilterSet(_logger, string.Join(", ", sources), set ? "dropped in the kernel, one in 256 let through" : "the kernel refused the socket filter, so each still costs the receive thread a lookup", _floodFilterChanges);
                }
            }
        }
    }

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Under handshake load: {Sources} send initiations without a cookie at a flooding rate; {What} ({Changes} filter changes so far)")]
    private static partial void LogFloodFilterSet(ILogger logger, string sources, string what, long changes);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Under handshake load no more: the flood's socket filter is removed ({Changes} filter changes so far)")]
    private static partial void LogFloodFilterCleared(ILogger logger, long changes);
}

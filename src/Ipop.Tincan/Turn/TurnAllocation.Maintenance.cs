using System.Net;
using Ipop.Tincan.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Turn;

/// <summary>Keeping the allocation alive: refreshes of the allocation, channel bindings and permissions before they expire (RFC 8656 sections 8, 9.2, 12.1), on one timer.</summary>
internal sealed partial class TurnAllocation
{
    private void UpdateLifetime(uint seconds)
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            Lifetime = TimeSpan.FromSeconds(seconds);
            _expiresAt = now + Lifetime;
            _allocationRefreshDue = now + _timings.RefreshDelay(Lifetime);
        }
    }

    private void OnTimer() => _ = MaintainAsync();

    /// <summary>Refreshes whatever is due: the allocation, channel bindings, permissions (RFC 8656 sections 8, 9.2, 12.1).</summary>
    internal async Task MaintainAsync()
    {
        if (Interlocked.Exchange(ref _maintaining, 1) == 1)
        {
            return;
        }

        try
        {
            if (State != TurnAllocationState.Active)
            {
                return;
            }

            DateTimeOffset now = _time.GetUtcNow();
            DateTimeOffset allocationDue, expiresAt;
            List<(ushort Number, IPEndPoint Peer)> channels = [];
            List<IPAddress> permissions = [];
            lock (_lock)
            {
                allocationDue = _allocationRefreshDue;
                expiresAt = _expiresAt;
                foreach (TurnChannel channel in _channelsByPeer.Values)
                {
                    if (_channelRefresh[channel.Number] <= now)
                    {
                        channels.Add((channel.Number, channel.Peer));
                    }
                }

                foreach ((IPAddress peer, DateTimeOffset due) in _permissions)
                {
                    if (due <= now)
                    {
                        permissions.Add(peer);
                    }
                }
            }

            if (now >= expiresAt)
            {
                Fail("the allocation expired before a refresh succeeded");
                return;
            }

            // A refused refresh is retried until the allocation expires, 401 included: a 401 cannot carry
            // MESSAGE-INTEGRITY (RFC 8489 section 9.2.5), so anyone can forge one, and failing on it would let them
            // kill the allocation. Credentials that were really revoked cost at most the rest of the lifetime.
            if (now >= allocationDue)
            {
                try
                {
                    await RefreshAsync(_timings.RequestedLifetime, _timings.Retransmission, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TurnAllocationException ex) when (ex.ErrorCode == StunErrorCodes.AllocationMismatch)
                {
                    // Signed (IsAuthentic discards an unsigned 437): the server really has no allocation for us.
                    Fail(ex.Message);
                    return;
                }
                catch (Exception ex) when (ex is TurnAuthenticationException or TurnAllocationException or TimeoutException or ObjectDisposedException)
                {
                    LogRefreshFailed(_logger, Server, "allocation", ex.Message);
                    lock (_lock)
                    {
                        _allocationRefreshDue = _time.GetUtcNow() + _timings.RetryAfterFailure;
                    }
                }
            }

            foreach ((ushort number, IPEndPoint peer) in channels)
            {
                TimeSpan next = _timings.ChannelRefreshInterval;
                try
                {
                    await SendChannelBindAsync(number, peer, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref _channelRefreshes);
                }
                catch (Exception ex) when (ex is TurnAllocationException or TurnAuthenticationException or TimeoutException or ObjectDisposedException)
                {
                    LogRefreshFailed(_logger, Server, $"channel 0x{number:x4} to {peer}", ex.Message);
                    next = _timings.RetryAfterFailure;
                }

                lock (_lock)
                {
                    _channelRefresh[number] = _time.GetUtcNow() + next;
                }
            }

            foreach (IPAddress peer in permissions)
            {
                TimeSpan next = _timings.PermissionRefreshInterval;
                try
                {
                    await SendCreatePermissionAsync(peer, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref _permissionRefreshes);
                }
                catch (Exception ex) when (ex is TurnAllocationException or TurnAuthenticationException or TimeoutException or ObjectDisposedException)
                {
                    LogRefreshFailed(_logger, Server, $"permission for {peer}", ex.Message);
                    next = _timings.RetryAfterFailure;
                }

                lock (_lock)
                {
                    _permissions[peer] = _time.GetUtcNow() + next;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _maintaining, 0);
            ScheduleNext();
        }
    }

    private void ScheduleNext()
    {
        if (State != TurnAllocationState.Active)
        {
            return;
        }

        DateTimeOffset next;
        lock (_lock)
        {
            next = _allocationRefreshDue < _expiresAt ? _allocationRefreshDue : _expiresAt;
            foreach (DateTimeOffset due in _channelRefresh.Values)
            {
                next = due < next ? due : next;
            }

            foreach (DateTimeOffset due in _permissions.Values)
            {
                next = due < next ? due : next;
            }
        }

        TimeSpan delay = next - _time.GetUtcNow();
        try
        {
            _timer.Change(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed concurrently: nothing left to schedule.
        }
    }

    private void Fail(string reason)
    {
        if (Interlocked.CompareExchange(ref _state, (int)TurnAllocationState.Failed, (int)TurnAllocationState.Active) != (int)TurnAllocationState.Active)
        {
            return;
        }

        _timer.Dispose();
        LogFailed(_logger, Server, RelayedAddress, reason);
        Failed?.Invoke(this, reason);
    }

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "TURN server {Server}: refreshing {What} failed: {Reason}; retrying")]
    private static partial void LogRefreshFailed(ILogger logger, TurnServerEndpoint server, string what, string reason);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Error, Message = "TURN allocation {Relayed} on {Server} is lost: {Reason}")]
    private static partial void LogFailed(ILogger logger, TurnServerEndpoint server, IPEndPoint relayed, string reason);
}

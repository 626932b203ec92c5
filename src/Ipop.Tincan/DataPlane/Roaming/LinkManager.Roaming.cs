using Ipop.Tincan.DataPlane.Roaming;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Roaming: when the machine's addresses change (sleep and wake, a new DHCP lease, Wi-Fi to wired), every link is told
/// at once (it announces itself from the new address, which moves a peer that can still be reached, WireGuard-style),
/// STUN and TURN are gathered again, and <see cref="LocalCandidatesChanged"/> asks the controller to send the new
/// descriptor to the peers. The socket is bound to the any address, so it keeps working across the change.
/// </summary>
internal sealed partial class LinkManager
{
    private static readonly TimeSpan UnderlayQuiet = TimeSpan.FromMilliseconds(150);
    private static readonly TimeSpan UnderlayMaxDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RegatherBound = TimeSpan.FromSeconds(6);
    private readonly Lock _underlayLock = new();
    private UnderlayDebounce? _underlayDebounce;
    private ITimer? _underlayTimer;
    private AddressMonitor? _addressMonitor;
    private long _underlayChanges;

    // Interfaces whose addresses changed in the pending burst (0: unknown, the kernel dropped notifications). Checked
    // again when the burst settles: our own TUN/TAP usually gets its overlay address just before it is attached.
    private readonly HashSet<int> _changedInterfaces = [];

    /// <inheritdoc />
    public event EventHandler? LocalCandidatesChanged;

    /// <summary>Address changes acted on (after the debounce).</summary>
    internal long UnderlayChanges => Interlocked.Read(ref _underlayChanges);

    /// <summary>
    /// Any thread (the address monitor after its debounce; tests directly): the underlay moved. Links announce
    /// themselves from the new address, NAT traversal gathers again, and the controller hears of the new candidates.
    /// </summary>
    internal void OnUnderlayChanged()
    {
        if (Volatile.Read(ref _disposed) != 0 || Mux is null)
        {
            return;
        }

        Interlocked.Increment(ref _underlayChanges);
        LogUnderlayChanged(_logger);

        // The source address toward a destination may be another one now.
        _localToward.Clear();
        Control.Post(() =>
        {
            foreach (TincanLink link in _snapshot)
            {
                link.OnUnderlayMoved();
            }
        });
        Nat?.OnUnderlayChanged();
        _ = AnnounceCandidatesAsync();
    }

    /// <summary>Raises <see cref="LocalCandidatesChanged"/> (after a re-gather, or a replaced TURN allocation).</summary>
    internal void RaiseLocalCandidatesChanged()
    {
        try
        {
            LocalCandidatesChanged?.Invoke(this, EventArgs.Empty);
        }
#pragma warning disable CA1031 // A subscriber's bug must not stop roaming.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogHandlerThrew(_logger, e);
        }
    }

    private void StartRoaming()
    {
        _underlayDebounce = new UnderlayDebounce(
            (long)(UnderlayQuiet.TotalSeconds * Time.TimestampFrequency),
            (long)(UnderlayMaxDelay.TotalSeconds * Time.TimestampFrequency));
        _underlayTimer = Time.CreateTimer(static state => ((LinkManager)state!).OnUnderlayTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _addressMonitor = AddressMonitor.TryStart(OnAddressChanges, _logger);
    }

    private void StopRoaming()
    {
        _addressMonitor?.Dispose();
        _underlayTimer?.Dispose();
    }

    // Monitor thread: addresses came or went; our own TUN/TAP's (the overlay's) do not count.
    private void OnAddressChanges(IReadOnlyList<AddressChange> changes)
    {
        string? own = Volatile.Read(ref _binding)?.Nic.Name;
        bool relevant = false;
        foreach (AddressChange c in changes)
        {
            if (c.InterfaceIndex == 0 || (c.IsUsable && (own is null || !string.Equals(AddressMonitor.InterfaceName(c.InterfaceIndex), own, StringComparison.Ordinal))))
            {
                relevant = true;
                break;
            }
        }

        if (!relevant || _underlayDebounce is null)
        {
            return;
        }

        lock (_underlayLock)
        {
            foreach (AddressChange c in changes)
            {
                if ((c.InterfaceIndex == 0 || c.IsUsable) && _changedInterfaces.Count < 64)
                {
                    _changedInterfaces.Add(c.InterfaceIndex);
                }
            }

            long now = Time.GetTimestamp();
            long due = _underlayDebounce.OnChange(now);
            _underlayTimer?.Change(TimeSpan.FromSeconds((double)Math.Max(0, due - now) / Time.TimestampFrequency), Timeout.InfiniteTimeSpan);
        }
    }

    // Timer thread: the burst settled.
    private void OnUnderlayTimer()
    {
        int[] changed;
        lock (_underlayLock)
        {
            long now = Time.GetTimestamp();
            if (_underlayDebounce is null || !_underlayDebounce.TryFire(now))
            {
                // A timer may fire a little before the clock says the burst is due: wait for the rest, or it is lost.
                if (_underlayDebounce is { DueAt: > 0 } pending)
                {
                    _underlayTimer?.Change(TimeSpan.FromSeconds((double)Math.Max(1, pending.DueAt - now) / Time.TimestampFrequency) + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
                }

                return;
            }

            changed = [.. _changedInterfaces];
            _changedInterfaces.Clear();
        }

        string? own = Volatile.Read(ref _binding)?.Nic.Name;
        if (own is not null && changed.All(i => i != 0 && string.Equals(AddressMonitor.InterfaceName(i), own, StringComparison.Ordinal)))
        {
            return; // only the overlay interface (attached meanwhile) changed: the underlay did not move
        }

        OnUnderlayChanged();
    }

    // Gathers again (host addresses, STUN; the TURN allocation is replaced by NatTraversal when its 5-tuple is gone)
    // and then tells the controller, which sends the new descriptor to each peer.
    private async Task AnnounceCandidatesAsync()
    {
        try
        {
            using var bound = new CancellationTokenSource(RegatherBound, Time);
            if (Mux is { } mux)
            {
                _ = await GatherAsync(mux, bound.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Announce what there is: the host candidates changed in any case.
        }

        RaiseLocalCandidatesChanged();
    }

    internal void LogLinkRoaming(TincanLink link) => LogRoaming(_logger, link.Peer.Value, link.Path?.Kind ?? LinkPath.None);

    [LoggerMessage(EventId = 145, Level = LogLevel.Debug, Message = "Link to {Peer} ({Path}): announcing the new address to the peer")]
    private static partial void LogRoaming(ILogger logger, string peer, LinkPath path);

    [LoggerMessage(EventId = 143, Level = LogLevel.Information, Message = "Local addresses changed: links announce themselves from the new address; gathering candidates again")]
    private static partial void LogUnderlayChanged(ILogger logger);
}

using System.Net;
using System.Net.NetworkInformation;
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
    private HashSet<(string Interface, IPAddress Address)>? _underlayAddresses;

    // Names of every TUN/TAP this node has attached: a recreated device keeps its name (not its index), and its
    // addresses come and go around attach and detach, while no binding names it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _overlayInterfaces = new(StringComparer.Ordinal);

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
        AnnounceEveryLink();
        Nat?.OnUnderlayChanged();
        _ = AnnounceCandidatesAsync();
    }

    /// <inheritdoc />
    /// <remarks>
    /// The controller calls it after its signaling connection was reset. A NAT whose outside address changed under an
    /// idle node changes no local address (the address monitor sees nothing), and the peers keep sending to the old
    /// public address until we send: every link announces itself now (a keepalive over its path and a handshake over
    /// every path, as after a move), which moves the peers' paths to our new public address; STUN is asked again,
    /// and only a changed public address replaces the TURN allocation and raises <see cref="LocalCandidatesChanged"/>.
    /// </remarks>
    public void CheckNetworkNow()
    {
        if (Volatile.Read(ref _disposed) != 0 || Mux is null)
        {
            return;
        }

        LogCheckingNetwork(_logger);
        AnnounceEveryLink();
        _ = RegatherAfterResetAsync();
    }

    // Every link announces itself as after a move (a keepalive and a handshake over every path), on the control loop.
    private void AnnounceEveryLink() => Control.Post(() =>
    {
        foreach (TincanLink link in _snapshot)
        {
            link.OnUnderlayMoved();
        }
    });

    // After a signaling reset: STUN again; announce only if the public address changed.
    private async Task RegatherAfterResetAsync()
    {
        if (Nat is not { } nat || Mux is not { } mux)
        {
            return;
        }

        string before = nat.ServerReflexiveSignature;
        nat.RestartServerReflexive();
        try
        {
            using var bound = new CancellationTokenSource(RegatherBound, Time);
            _ = await GatherAsync(mux, bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // nothing learnt; the next reset or move tries again
        }

        string after = nat.ServerReflexiveSignature;
        if (string.Equals(before, after, StringComparison.Ordinal) || after.Length == 0)
        {
            return;
        }

        LogPublicAddressChanged(_logger, before, after);
        nat.OnPublicAddressChanged();
        RaiseLocalCandidatesChanged();
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
        _underlayAddresses = ReadUnderlayAddresses();
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
            if (c.InterfaceIndex == 0 || (c.IsUsable && !IsOverlayInterface(AddressMonitor.InterfaceName(c.InterfaceIndex), own)))
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
        bool onlyOwn = changed.All(i => i != 0 && IsOverlayInterface(AddressMonitor.InterfaceName(i), own));

        // What decides is whether the underlay's addresses differ from the last burst's: events alone also come from
        // our own TUN/TAP before it is attached, from a previous run's device going away after we started (its index
        // no longer names anything), and from an address removed and added back.
        bool differ = UnderlayAddressesChanged(own);
        if (onlyOwn || !differ)
        {
            return;
        }

        OnUnderlayChanged();
    }

    // Timer thread (and StartRoaming): this machine's addresses, by interface name, outside loopback and IPv6 link-local.
    private static HashSet<(string Interface, IPAddress Address)>? ReadUnderlayAddresses()
    {
        var set = new HashSet<(string Interface, IPAddress Address)>();
        try
        {
            foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
                {
                    continue;
                }

                foreach (UnicastIPAddressInformation info in nic.GetIPProperties().UnicastAddresses)
                {
                    if (!info.Address.IsIPv6LinkLocal)
                    {
                        set.Add((nic.Name, info.Address));
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
            return null; // unknown: the caller takes it as a change
        }

        return set;
    }

    // Compares with the set read at the last burst (or at start), leaving out the overlay interface by its name, which a
    // recreated device keeps while its index changes.
    private bool UnderlayAddressesChanged(string? own)
    {
        HashSet<(string Interface, IPAddress Address)>? now = ReadUnderlayAddresses();
        HashSet<(string Interface, IPAddress Address)>? before = Interlocked.Exchange(ref _underlayAddresses, now);
        if (now is null || before is null)
        {
            return true;
        }

        bool Underlay((string Interface, IPAddress Address) entry) => !IsOverlayInterface(entry.Interface, own);
        return !now.Where(Underlay).ToHashSet().SetEquals(before.Where(Underlay));
    }

    /// <summary>Notes the name of a TUN/TAP being attached, so its address changes never count as the underlay's.</summary>
    internal void RememberOverlayInterface(string name)
    {
        if (_overlayInterfaces.Count < 16)
        {
            _overlayInterfaces.TryAdd(name, 0);
        }
    }

    private bool IsOverlayInterface(string? name, string? attached) =>
        name is not null && (string.Equals(name, attached, StringComparison.Ordinal) || _overlayInterfaces.ContainsKey(name));

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

    [LoggerMessage(EventId = 147, Level = LogLevel.Information, Message = "Signaling was reset: links announce themselves from wherever we are now; asking STUN for our public address again")]
    private static partial void LogCheckingNetwork(ILogger logger);

    [LoggerMessage(EventId = 148, Level = LogLevel.Information, Message = "Our public address changed ({Before} -> {After}) with no local address changing: announcing the new candidates")]
    private static partial void LogPublicAddressChanged(ILogger logger, string before, string after);

    [LoggerMessage(EventId = 143, Level = LogLevel.Information, Message = "Local addresses changed: links announce themselves from the new address; gathering candidates again")]
    private static partial void LogUnderlayChanged(ILogger logger);
}

using System.Net.Sockets;
using System.Xml.Linq;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Muc;
using Ipop.Xmpp.Roster;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp;

/// <summary>Session lifecycle: connect, rebuild state, keepalive, reconnect with backoff, IQ requests.</summary>
public sealed partial class XmppSignaling
{
    // After a network change the check must be quick (the peers wait for our new candidates) but not so quick that a
    // slow server is taken for a dead one: a false alarm costs one reconnect.
    private static readonly TimeSpan UrgentPingTimeout = TimeSpan.FromSeconds(2);

    private string? _keepaliveFailure;

    // Set when the session ended because its local address went away: the cause is ours, not the server's, so the first
    // reconnect goes at once instead of after the backoff that protects a restarting server from a storm.
    private int _reconnectAtOnce;
    private SkippedStanzaLog? _skipLog;

    // Completed by VerifyConnectionNow; the waiter that sees it completed replaces it.
    private TaskCompletionSource _wake = NewWake();

    /// <summary>Inbound stanzas dropped by the stream reader (nested too deep, too large, malformed) while the session went on, and presences whose announcement was ignored as invalid.</summary>
    public long SkippedStanzas => Volatile.Read(ref _skipLog)?.Count ?? 0;

    /// <summary>For tests: drops the session's connection as a network failure would (no closing tag); the node reconnects by itself.</summary>
    internal async Task DropSessionForTestsAsync()
    {
        XmppConnection? connection;
        lock (_gate)
        {
            connection = _connection;
        }

        if (connection is not null)
        {
            await connection.DisposeAsync();
        }
    }

    /// <summary>Opens a session, rebuilds roster, presence and rooms on it; returns the read loop, which completes with the reason the session ended.</summary>
    private async Task<Task<string>> StartSessionAsync(CancellationToken cancellationToken)
    {
        SkippedStanzaLog skipLog = LazyInitializer.EnsureInitialized(ref _skipLog, () => new SkippedStanzaLog(_logger, _time));
        XmppConnection connection = await XmppConnection.OpenAsync(_options, _resource, _logger, _time, skipLog, cancellationToken);
        _keepaliveFailure = null;
        lock (_gate)
        {
            LocalId = new PeerId(connection.BoundJid.Full);
            _connection = connection;
        }

        Task<string> loop = Task.Run(() => ReadLoopAsync(connection), CancellationToken.None);
        try
        {
            XElement result = await RequestAsync(connection, StanzaBuilder.RosterGet(NextId()), _options.ConnectTimeout, cancellationToken);
            ApplyRoster(RosterItem.ParseQuery(result.Element(XName.Get("query", XmppNamespaces.Roster))), replace: true);
            (string? announcement, long announced) = AnnouncementForPresence(connection);
            await connection.SendAsync(StanzaBuilder.InitialPresence(_options.PresencePriority, announcement), cancellationToken);
            lock (_gate)
            {
                _connected = true;
                _events.Post(() => ConnectionChanged?.Invoke(this, new SignalingConnectionEventArgs(true, null)));
            }

            RepublishIfStale(announced); // Changed while the presence was on its way (not yet connected: not sent then).

            // Rooms are joined in the background (XmppSignaling.Groups.cs): a room that is missing, locked or does
            // not list us yet is asked again with backoff, and must not hold up the session.
            // The settle time counts from now, not from when a pool thread gets to it: a room's settle counts from its
            // (later) rejoin, so the roster's always ends first and a peer gone for good is reported in one event.
            long connectedAt = _time.GetTimestamp();
            StartRoomKeepers(connection, loop);
            _ = Task.Run(() => KeepaliveAsync(connection, loop), CancellationToken.None);
            _ = Task.Run(() => SettleAsync(connection, loop, connectedAt), CancellationToken.None);
            return loop;
        }
        catch
        {
            await connection.DisposeAsync();
            await ((Task)loop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            lock (_gate)
            {
                if (ReferenceEquals(_connection, connection))
                {
                    _connection = null;
                    _connected = false;
                }
            }

            throw;
        }
    }

    private async Task SuperviseAsync(Task<string> session)
    {
        CancellationToken stop = _lifetime.Token;
        while (true)
        {
            string reason = await session;
            OnDisconnected(reason);
            if (stop.IsCancellationRequested)
            {
                return;
            }

            LogDisconnected(_logger, reason);
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    bool atOnce = attempt == 0 && Interlocked.Exchange(ref _reconnectAtOnce, 0) == 1;
                    await DelayOrWakeAsync(atOnce ? TimeSpan.Zero : Backoff(attempt), until: null, stop);
                    session = await StartSessionAsync(stop);
                    LogReconnected(_logger, LocalId.Value, attempt + 1);
                    break;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is XmppSignalingException or OperationCanceledException or IOException or SocketException)
                {
                    LogReconnectFailed(_logger, attempt + 1, ex.Message);
                }
            }
        }
    }

    /// <inheritdoc />
    public void VerifyConnectionNow()
    {
        LogVerifyingConnection(_logger);
        Volatile.Read(ref _wake).TrySetResult();
    }

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Waits <paramref name="delay"/>, less if <see cref="VerifyConnectionNow"/> is called or <paramref name="until"/>
    /// completes; true when woken by <see cref="VerifyConnectionNow"/>. Throws when <paramref name="stop"/> is cancelled.
    /// </summary>
    private async Task<bool> DelayOrWakeAsync(TimeSpan delay, Task? until, CancellationToken stop)
    {
        TaskCompletionSource wake = Volatile.Read(ref _wake);
        using var timerStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Task timer = Task.Delay(delay, _time, timerStop.Token);
        Task first = until is null ? await Task.WhenAny(timer, wake.Task) : await Task.WhenAny(timer, wake.Task, until);
        await timerStop.CancelAsync();
        stop.ThrowIfCancellationRequested();
        if (first != wake.Task)
        {
            return false;
        }

        // One wake serves one waiter; a later call completes the new one.
        Interlocked.CompareExchange(ref _wake, NewWake(), wake);
        return true;
    }

    /// <summary>Exponential backoff with full jitter between half and all of the step, capped (avoids reconnect storms after a server restart).</summary>
    internal TimeSpan Backoff(int attempt)
    {
        double min = _options.ReconnectMinDelay.TotalMilliseconds;
        double max = _options.ReconnectMaxDelay.TotalMilliseconds;
        double step = Math.Min(max, min * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(step * (0.5 + (Random.Shared.NextDouble() * 0.5)));
    }

    /// <summary>Whether a failed login may succeed if tried again (see <see cref="ConnectAsync"/>).</summary>
    internal static bool IsRetryableLogin(Exception ex) => ex switch
    {
        // NXDOMAIN is a wrong host name in the configuration; a resolver that cannot be reached answers TryAgain.
        XmppSignalingException { InnerException: SocketException { SocketErrorCode: SocketError.HostNotFound } } => false,
        XmppSignalingException x => x.Kind is XmppErrorKind.Network or XmppErrorKind.Request,
        IOException or SocketException or ObjectDisposedException => true,
        _ => false,
    };

    /// <summary>
    /// The session ended. Peers keep their last known state and no <see cref="PeerChanged"/> is raised:
    /// losing our connection says nothing about them (a server restart, a network blip on our side), and
    /// reporting them offline would make controllers drop every link. What we knew is held as unconfirmed
    /// until the next session reconciles it (see <see cref="SettleAsync"/>).
    /// </summary>
    private void OnDisconnected(string reason)
    {
        lock (_gate)
        {
            _connected = false;
            _connection = null;
            _events.Post(() => ConnectionChanged?.Invoke(this, new SignalingConnectionEventArgs(false, reason)));
            HoldPresenceLocked();
            foreach (MucRoom room in _rooms.Values)
            {
                room.Joined = false;
                room.Join?.TrySetException(new XmppSignalingException(XmppErrorKind.Network, $"Connection lost while joining {room.Jid}."));
            }
        }

        foreach (PendingIq pending in _pendingIq.Values)
        {
            pending.Completion.TrySetException(new XmppSignalingException(XmppErrorKind.Network, $"Connection lost: {reason}"));
        }
    }

    private async Task<string> ReadLoopAsync(XmppConnection connection)
    {
        try
        {
            while (true)
            {
                XElement? element = await connection.ReadAsync();
                if (element is null)
                {
                    return _keepaliveFailure ?? "server closed the stream";
                }

                lock (_gate)
                {
                    NotePresenceLocked(element);
                }

                await DispatchAsync(connection, element);
            }
        }
        catch (XmppXmlException ex)
        {
            LogBadStream(_logger, ex.Condition, ex.Message);
            await connection.CloseAsync(ex.Condition);
            return ex.Message;
        }
#pragma warning disable CA1031 // The read loop must end with a reason, never crash the process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return _keepaliveFailure ?? (ex is XmppSignalingException ? ex.Message : $"connection lost ({ex.GetType().Name}: {ex.Message})");
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    private async Task KeepaliveAsync(XmppConnection connection, Task<string> loop)
    {
        CancellationToken stop = _lifetime.Token;
        while (!loop.IsCompleted && !stop.IsCancellationRequested)
        {
            try
            {
                bool urgent = await DelayOrWakeAsync(_options.KeepaliveInterval, loop, stop);
                if (loop.IsCompleted || stop.IsCancellationRequested)
                {
                    return;
                }

                if (urgent && connection.LostLocalAddress() is { } gone)
                {
                    _keepaliveFailure = $"its local address {gone} is no longer assigned";
                    Volatile.Write(ref _reconnectAtOnce, 1);
                    LogLocalAddressGone(_logger, gone);
                    await connection.DisposeAsync();
                    return;
                }

                // XEP-0199 §4.2: client-to-server ping; an error reply still proves the server is alive.
                TimeSpan timeout = urgent && UrgentPingTimeout < _options.KeepaliveInterval ? UrgentPingTimeout : _options.KeepaliveInterval;
                await RequestAsync(connection, StanzaBuilder.Ping(NextId(), _account.Domain), timeout, stop, acceptError: true);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (XmppSignalingException ex)
            {
                if (loop.IsCompleted)
                {
                    return;
                }

                _keepaliveFailure = $"keepalive failed: {ex.Message}";
                LogKeepaliveFailed(_logger, ex.Message);
                await connection.DisposeAsync();
                return;
            }
        }
    }

    private Task<XElement> RequestAsync(XElement iq, CancellationToken cancellationToken)
        => RequestAsync(RequireConnection(), iq, TimeSpan.FromSeconds(10), cancellationToken);

    private async Task<XElement> RequestAsync(XmppConnection connection, XElement iq, TimeSpan timeout, CancellationToken cancellationToken, bool acceptError = false)
    {
        string id = (string)iq.Attribute("id")!;
        string? to = (string?)iq.Attribute("to");
        string what = iq.Elements().FirstOrDefault()?.Name.LocalName ?? "iq";
        var pending = new PendingIq(new TaskCompletionSource<XElement>(TaskCreationOptions.RunContinuationsAsynchronously), to);
        _pendingIq[id] = pending;
        try
        {
            try
            {
                await connection.SendAsync(iq, cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
            {
                throw new XmppSignalingException(XmppErrorKind.Network, $"Cannot send <{what}/>: {ex.Message}", ex);
            }

            XElement reply;
            try
            {
                reply = await pending.Completion.Task.WaitAsync(timeout, _time, cancellationToken);
            }
            catch (TimeoutException ex)
            {
                throw new XmppSignalingException(XmppErrorKind.Request, $"No answer to <{what}/> from {to ?? _account.Domain} within {timeout.TotalSeconds:0.#} s.", ex);
            }

            if (!acceptError && StanzaReader.Type(reply, "result") == "error")
            {
                throw new XmppSignalingException(XmppErrorKind.Request, $"{to ?? _account.Domain} refused <{what}/>: {StanzaReader.ErrorCondition(reply)}.");
            }

            return reply;
        }
        finally
        {
            _pendingIq.TryRemove(id, out _);
        }
    }
}

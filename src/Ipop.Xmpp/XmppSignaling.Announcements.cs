using System.Net.Sockets;
using System.Xml.Linq;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Muc;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp;

/// <summary>
/// Presence announcements (<see cref="IOverlaySignaling.SetAnnouncementAsync"/>): ours rides in the marker of every
/// presence we send (the initial one, room joins, and updates to the server and to each joined room when it changes);
/// a peer's is read from its presence, whether it comes from the roster (a friend) or through a room (a member).
/// </summary>
/// <remarks>
/// Wire form: <c>&lt;ipop xmlns='urn:ipop:signaling:1' ver='1'&gt;&lt;announcement&gt;TEXT&lt;/announcement&gt;&lt;/ipop&gt;</c>;
/// no <c>announcement</c> child means none. Every presence carries the whole current state, so a presence lost or
/// overtaken costs nothing once the next one arrives, and a reconnect simply sends the current one again.
/// </remarks>
public sealed partial class XmppSignaling
{
    // Serializes publishing, so two quick changes cannot reach the server in the wrong order: each publish sends the
    // value current when it holds the gate. Never disposed: no wait handle is ever created, and a publish may still
    // be releasing it while the node is disposed.
#pragma warning disable CA2213
    private readonly SemaphoreSlim _publishGate = new(1, 1);
#pragma warning restore CA2213

    // Full JID -> the peer's last valid announcement (absent: none), kept while the peer is listed (also offline).
    private readonly Dictionary<string, string> _announcements = new(StringComparer.Ordinal);

    private string? _announcement;

    // Bumped on every change; what each presence carried is remembered by version, so a join or session that raced
    // with a change knows to send it again.
    private long _announcementVersion;
    private object? _presenceConnection;
    private long _presenceVersion = -1;

    /// <inheritdoc />
    /// <remarks>
    /// Before <see cref="ConnectAsync"/> or while disconnected the announcement is only kept: the next session's
    /// initial presence and room joins carry it. While connected, one presence update goes to the server (friends) and
    /// one to each joined room (members). A send that fails because the session is lost is not an error: the next
    /// session publishes the announcement then current.
    /// </remarks>
    public async Task SetAnnouncementAsync(string? announcement, CancellationToken cancellationToken)
    {
        if (IOverlaySignaling.CheckAnnouncement(announcement) is { } problem)
        {
            throw new ArgumentException(problem, nameof(announcement));
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_gate)
        {
            if (_announcement == announcement)
            {
                return;
            }

            _announcement = announcement;
            _announcementVersion++;
        }

        await PublishAnnouncementAsync(cancellationToken);
    }

    /// <summary>The announcement this node publishes with its presence, or <c>null</c>.</summary>
    internal string? Announcement
    {
        get
        {
            lock (_gate)
            {
                return _announcement;
            }
        }
    }

    /// <summary>The announcement and its version for the initial presence about to be sent on a new session.</summary>
    private (string? Text, long Version) AnnouncementForPresence(XmppConnection connection)
    {
        lock (_gate)
        {
            _presenceConnection = connection;
            _presenceVersion = _announcementVersion;
            return (_announcement, _announcementVersion);
        }
    }

    /// <summary>
    /// Sends the current announcement where the last presence sent carried an older one: to the server (friends see it)
    /// unless the session's latest presence already had it, and to each room joined on this session likewise.
    /// </summary>
    private async Task PublishAnnouncementAsync(CancellationToken cancellationToken)
    {
        await _publishGate.WaitAsync(cancellationToken);
        try
        {
            XmppConnection connection;
            string? text;
            long version;
            bool global;
            List<MucRoom> rooms;
            lock (_gate)
            {
                if (!_connected || _connection is null)
                {
                    return; // The next session's initial presence and joins carry it.
                }

                connection = _connection;
                text = _announcement;
                version = _announcementVersion;
                global = !ReferenceEquals(_presenceConnection, connection) || _presenceVersion != version;
                rooms = [.. _rooms.Values.Where(r => r.Joined && ReferenceEquals(r.JoinedOn, connection) && r.AnnouncedVersion != version)];
            }

            if (global)
            {
                await connection.SendAsync(StanzaBuilder.InitialPresence(_options.PresencePriority, text), cancellationToken);
                lock (_gate)
                {
                    _presenceConnection = connection;
                    _presenceVersion = version;
                }
            }

            foreach (MucRoom room in rooms)
            {
                await connection.SendAsync(StanzaBuilder.MucPresence(room.OccupantJid, text), cancellationToken);
                lock (_gate)
                {
                    room.AnnouncedVersion = version;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The session was lost under us: its successor's initial presence and joins carry the announcement.
        }
        finally
        {
            _publishGate.Release();
        }
    }

    /// <summary>After a session or a join came up: publishes a change that raced with it (the presence it sent may be older).</summary>
    private void RepublishIfStale(long sentVersion)
    {
        lock (_gate)
        {
            if (sentVersion == _announcementVersion)
            {
                return;
            }
        }

        _ = RepublishAsync();

        async Task RepublishAsync()
        {
            try
            {
                await PublishAnnouncementAsync(_lifetime.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                // Disposed meanwhile.
            }
        }
    }

    /// <summary>
    /// Under <c>_gate</c>, for an available, marked presence of a peer session (from the roster or through a room):
    /// records its announcement; true if it differs from the one recorded. An invalid one is ignored (the peer then has
    /// none), counted with the skipped stanzas and logged (rate-limited) naming the sender; the presence still counts.
    /// </summary>
    private bool NoteAnnouncementLocked(string full, XElement presence)
    {
        string? problem = StanzaReader.ReadAnnouncement(presence, out string? announcement);
        if (problem is not null)
        {
            SkippedStanzaLog skipLog = LazyInitializer.EnsureInitialized(ref _skipLog, () => new SkippedStanzaLog(_logger, _time));
            int length = presence.Element(XName.Get("ipop", XmppNamespaces.Ipop))?.Elements().Sum(e => e.Value.Length) ?? 0;
            skipLog.Report(new SkippedStanza(StanzaSkipReason.InvalidAnnouncement, "presence", full, length, $"announcement ignored, presence kept: {problem}"));
        }

        _announcements.TryGetValue(full, out string? before);
        if (before == announcement)
        {
            return false;
        }

        if (announcement is null)
        {
            _announcements.Remove(full);
        }
        else
        {
            _announcements[full] = announcement;
        }

        return true;
    }
}

using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// The last accepted handshake-initiation timestamp (TAI64N) of each peer static key: WireGuard's replay protection
/// for initiations (an initiation is accepted only if its timestamp is newer). Kept by the node, not the link, so it
/// survives a link being removed and created again, and in a <see cref="HandshakeStateFile"/> when a path is given,
/// so it survives a restart; otherwise one old captured initiation per peer would be accepted again after either,
/// costing a handshake and moving the link's path to whoever replayed it.
/// </summary>
/// <remarks>
/// Thread-safe (one lock; handshakes are rare). The file is written only when a timestamp is accepted, at most once per
/// handshake (about every 2 minutes per peer), before the response is sent.
/// </remarks>
internal sealed partial class HandshakeTimestamps
{
    /// <summary>Peers remembered; past it the one with the oldest timestamp is forgotten (a node has far fewer peers).</summary>
    public const int MaxPeers = 4096;

    private readonly Dictionary<NodePublicKey, byte[]> _last;
    private readonly string? _path;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private long _lastSaveFailureLogged;

    private HandshakeTimestamps(Dictionary<NodePublicKey, byte[]> last, string? path, ILogger logger)
    {
        _last = last;
        _path = path;
        _logger = logger;
    }

    /// <summary>Where the table is kept, or null when only in memory.</summary>
    public string? Path => _path;

    /// <summary>Peers with a remembered timestamp.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _last.Count;
            }
        }
    }

    /// <summary>
    /// Where <paramref name="options"/> keep the table: <see cref="TincanOptions.StatePath"/>, else next to the key file
    /// (<c>PrivateKeyPath</c> + <c>.state</c>), else nowhere (null: a throwaway key has no history worth keeping).
    /// </summary>
    public static string? ResolvePath(TincanOptions options) =>
        options.StatePath ?? (options.PrivateKeyPath is null ? null : options.PrivateKeyPath + ".state");

    /// <summary>A table kept only in memory (lost at restart).</summary>
    public static HandshakeTimestamps InMemory(ILogger logger) => new([], null, logger);

    /// <summary>Loads the table from <paramref name="path"/> (empty when the file does not exist yet).</summary>
    /// <exception cref="InvalidDataException">The file is malformed; the message names it and the line.</exception>
    public static HandshakeTimestamps Load(string path, ILogger logger) => new(HandshakeStateFile.Load(path), path, logger);

    /// <summary>
    /// Compares <paramref name="timestamp"/> with the last one accepted from <paramref name="peer"/>, without
    /// accepting it: positive when newer (or none was accepted yet), zero when equal, negative when older.
    /// </summary>
    public int Compare(NodePublicKey peer, ReadOnlySpan<byte> timestamp)
    {
        lock (_lock)
        {
            return _last.TryGetValue(peer, out byte[]? last) ? Tai64N.Compare(timestamp, last) : 1;
        }
    }

    /// <summary>
    /// Accepts <paramref name="timestamp"/> when it is newer than the last one accepted from <paramref name="peer"/>,
    /// and persists it; <paramref name="order"/> is as <see cref="Compare"/> returned before.
    /// </summary>
    public bool TryAccept(NodePublicKey peer, ReadOnlySpan<byte> timestamp, out int order)
    {
        KeyValuePair<NodePublicKey, byte[]>[]? toSave = null;
        lock (_lock)
        {
            if (_last.TryGetValue(peer, out byte[]? last))
            {
                order = Tai64N.Compare(timestamp, last);
                if (order <= 0)
                {
                    return false;
                }

                timestamp[..Tai64N.Length].CopyTo(last);
            }
            else
            {
                order = 1;
                if (_last.Count >= MaxPeers)
                {
                    ForgetOldest();
                }

                _last[peer] = timestamp[..Tai64N.Length].ToArray();
            }

            if (_path is not null)
            {
                toSave = [.. _last.Select(static e => new KeyValuePair<NodePublicKey, byte[]>(e.Key, (byte[])e.Value.Clone()))];
            }
        }

        if (toSave is not null)
        {
            Save(toSave);
        }

        return true;
    }

    private void ForgetOldest()
    {
        NodePublicKey oldest = default;
        byte[]? oldestStamp = null;
        foreach (KeyValuePair<NodePublicKey, byte[]> entry in _last)
        {
            if (oldestStamp is null || Tai64N.Compare(entry.Value, oldestStamp) < 0)
            {
                oldest = entry.Key;
                oldestStamp = entry.Value;
            }
        }

        _last.Remove(oldest);
    }

    private void Save(KeyValuePair<NodePublicKey, byte[]>[] entries)
    {
        try
        {
            // Outside the lock: two saves may race, and the later rename wins with a table no older than the earlier's
            // by more than the one handshake in between, which the next accepted handshake writes again.
            HandshakeStateFile.Save(_path!, entries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The handshake still goes on: the protection holds in memory until the next restart.
            long now = Environment.TickCount64;
            long last = Interlocked.Read(ref _lastSaveFailureLogged);
            if ((last == 0 || now - last >= 10_000) && Interlocked.CompareExchange(ref _lastSaveFailureLogged, now, last) == last)
            {
                LogSaveFailed(_logger, _path!, e.Message);
            }
        }
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Warning, Message = "Could not write the handshake state file {Path} ({Reason}); replay protection for handshakes holds in memory until the next restart")]
    private static partial void LogSaveFailed(ILogger logger, string path, string reason);
}

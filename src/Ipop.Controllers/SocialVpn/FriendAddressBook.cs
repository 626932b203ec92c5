using System.Buffers.Binary;
using System.Net;
using System.Text.Json;

namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// The addresses this node gives its friends' devices in its own view: stable across restarts
/// (persisted as JSON), and recycled only after a device was idle for the configured time, so a
/// friend who comes back keeps the address that other programs may still remember.
/// </summary>
internal sealed class FriendAddressBook
{
    private static readonly TimeSpan SaveSeenEvery = TimeSpan.FromMinutes(1);
    private readonly IPNetwork _pool;
    private readonly string? _path;
    private readonly TimeSpan _recycleAfter;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry> _byPeer = new(StringComparer.Ordinal);

    // The addresses in _byPeer, so that allocating for the 4,000th friend does not rebuild a set of the other 3,999.
    private readonly HashSet<IPAddress> _taken = [];

    public FriendAddressBook(IPNetwork pool, string? path, TimeSpan recycleAfter, TimeProvider time)
    {
        if (pool.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || pool.PrefixLength > 30)
        {
            throw new ArgumentException($"A SocialVPN pool must be an IPv4 prefix of length 30 or shorter, got {pool}.", nameof(pool));
        }

        _pool = pool;
        _path = path;
        _recycleAfter = recycleAfter;
        _time = time;
        Load();
    }

    /// <summary>This node's own address: the first host of the pool.</summary>
    public InterfaceAddress Self => new(Host(1), _pool.PrefixLength);

    public IPNetwork Pool => _pool;

    /// <summary>Every friend device with its address (tests check a large roster for conflicts).</summary>
    public IReadOnlyDictionary<string, IPAddress> Entries => _byPeer.ToDictionary(kv => kv.Key, kv => kv.Value.Address, StringComparer.Ordinal);

    /// <summary>The friend device's address, allocating (or reusing its old) one; marks it as seen now.</summary>
    public IPAddress AddressOf(PeerId peer)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (_byPeer.TryGetValue(peer.Value, out Entry? entry))
        {
            // Every negotiation message asks; with thousands of friends, rewriting the whole file each time would be
            // most of the work. The stored time may lag a minute, against a recycle time of hours.
            bool stale = now - entry.LastSeen >= SaveSeenEvery;
            entry.LastSeen = now;
            if (stale)
            {
                Save();
            }

            return entry.Address;
        }

        uint hosts = (1u << (32 - _pool.PrefixLength)) - 2;
        for (uint h = 2; h <= hosts; h++)
        {
            IPAddress candidate = Host(h);
            if (_taken.Add(candidate))
            {
                _byPeer[peer.Value] = new Entry(candidate, now);
                Save();
                return candidate;
            }
        }

        // Full: recycle the longest-idle entry if it has been idle long enough.
        KeyValuePair<string, Entry> oldest = _byPeer.MinBy(kv => kv.Value.LastSeen);
        if (now - oldest.Value.LastSeen < _recycleAfter)
        {
            throw new InvalidOperationException($"The address pool {_pool} is full and no friend device has been idle for {_recycleAfter}.");
        }

        _byPeer.Remove(oldest.Key);
        _byPeer[peer.Value] = new Entry(oldest.Value.Address, now);
        Save();
        return oldest.Value.Address;
    }

    /// <summary>The friend device whose address in our view is <paramref name="address"/>, if any.</summary>
    public string? PeerAt(IPAddress address) => _byPeer.FirstOrDefault(kv => kv.Value.Address.Equals(address)).Key;

    /// <summary>Drops entries idle for longer than the recycle time.</summary>
    public int Expire()
    {
        DateTimeOffset now = _time.GetUtcNow();
        int removed = 0;
        foreach (string key in _byPeer.Where(kv => now - kv.Value.LastSeen >= _recycleAfter).Select(kv => kv.Key).ToList())
        {
            _byPeer.Remove(key, out Entry? gone);
            _taken.Remove(gone!.Address);
            removed++;
        }

        if (removed > 0)
        {
            Save();
        }

        return removed;
    }

    private IPAddress Host(uint host)
    {
        Span<byte> b = stackalloc byte[4];
        _pool.BaseAddress.TryWriteBytes(b, out _);
        BinaryPrimitives.WriteUInt32BigEndian(b, BinaryPrimitives.ReadUInt32BigEndian(b) + host);
        return new IPAddress(b);
    }

    private void Load()
    {
        if (_path is null || !File.Exists(_path))
        {
            return;
        }

        Dictionary<string, StoredEntry>? stored;
        try
        {
            stored = JsonSerializer.Deserialize(File.ReadAllText(_path), AddressBookJsonContext.Default.DictionaryStringStoredEntry);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The SocialVPN address book {_path} is not valid JSON ({e.Message}); fix or delete it.", e);
        }

        foreach ((string peer, StoredEntry e) in stored ?? [])
        {
            if (IPAddress.TryParse(e.Address, out IPAddress? a) && _pool.Contains(a) && !a.Equals(Self.Address) && _taken.Add(a))
            {
                _byPeer[peer] = new Entry(a, e.LastSeen);
            }
        }
    }

    private void Save()
    {
        if (_path is null)
        {
            return;
        }

        var stored = _byPeer.ToDictionary(kv => kv.Key, kv => new StoredEntry(kv.Value.Address.ToString(), kv.Value.LastSeen), StringComparer.Ordinal);
        string tmp = _path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(stored, AddressBookJsonContext.Default.DictionaryStringStoredEntry));
        File.Move(tmp, _path, overwrite: true); // atomic replace: a crash never leaves half a file
    }

    private sealed class Entry(IPAddress address, DateTimeOffset lastSeen)
    {
        public IPAddress Address { get; } = address;

        public DateTimeOffset LastSeen { get; set; } = lastSeen;
    }

    /// <summary>One entry of the file (visible to its source-generated <see cref="AddressBookJsonContext"/>).</summary>
    internal sealed record StoredEntry(string Address, DateTimeOffset LastSeen);
}

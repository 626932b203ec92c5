using Ipop.Tincan.Crypto;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Tests.Crypto;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HandshakeTimestampsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-state-").FullName;
    private readonly NodePublicKey _peer = new(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Only_a_newer_timestamp_is_accepted()
    {
        HandshakeTimestamps table = HandshakeTimestamps.InMemory(NullLogger.Instance);
        Assert.True(table.TryAccept(_peer, Stamp(100), out int order));
        Assert.Equal(1, order);
        Assert.False(table.TryAccept(_peer, Stamp(100), out order));
        Assert.Equal(0, order);
        Assert.False(table.TryAccept(_peer, Stamp(99), out order));
        Assert.True(order < 0);
        Assert.True(table.Compare(_peer, Stamp(101)) > 0);
        Assert.True(table.TryAccept(_peer, Stamp(101), out _));
        Assert.True(table.Compare(new NodePublicKey(new byte[32]), Stamp(1)) > 0, "another peer has its own history");
    }

    [Fact]
    public void The_table_survives_a_reload_and_the_file_is_written_0600_only_when_a_timestamp_is_accepted()
    {
        string path = Path.Combine(_dir, "node.key.state");
        HandshakeTimestamps table = HandshakeTimestamps.Load(path, NullLogger.Instance);
        Assert.Equal(0, table.Count);
        Assert.False(File.Exists(path), "nothing is written before a handshake is accepted");

        Assert.True(table.TryAccept(_peer, Stamp(100), out _));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        DateTime written = File.GetLastWriteTimeUtc(path);
        File.SetLastWriteTimeUtc(path, written.AddHours(-1));
        Assert.False(table.TryAccept(_peer, Stamp(100), out _));
        Assert.False(table.TryAccept(_peer, Stamp(50), out _));
        Assert.Equal(written.AddHours(-1), File.GetLastWriteTimeUtc(path));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));

        // The cost of a persisted accept (write, fsync, rename), paid once per handshake on the control loop.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20; i++)
        {
            Assert.True(table.TryAccept(_peer, Stamp(1000 + i), out _));
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"persisted accept: {watch.Elapsed.TotalMilliseconds / 20:F2} ms");
        Assert.False(table.TryAccept(_peer, Stamp(100), out _));

        HandshakeTimestamps reloaded = HandshakeTimestamps.Load(path, NullLogger.Instance);
        Assert.False(reloaded.TryAccept(_peer, Stamp(1019), out _));
        Assert.True(reloaded.TryAccept(_peer, Stamp(1020), out _));
    }

    [Theory]
    [InlineData("not the header\n", "line 1")]
    [InlineData("", "line 1")]
    [InlineData(HandshakeStateFile.Header + "\nAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= 40000000\n", "line 2: the timestamp is not 24 hex digits")]
    [InlineData(HandshakeStateFile.Header + "\nnot-a-key 400000006000000000000000\n", "line 2: the peer key is not base64 of 32 bytes")]
    [InlineData(HandshakeStateFile.Header + "\nAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n", "line 2: expected a peer key and a timestamp")]
    [InlineData(HandshakeStateFile.Header + "\nAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= 400000006000000000000000\nAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= 400000006000000000000001\n", "line 3: peer key")]
    public void A_malformed_state_file_stops_the_start_with_its_name_and_line(string content, string expected)
    {
        string path = Path.Combine(_dir, "bad.state");
        File.WriteAllText(path, content);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => HandshakeTimestamps.Load(path, NullLogger.Instance));
        Assert.Contains($"'{path}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);

        // Through the public entry point too: the node does not start on it.
        var options = new TincanOptions { ListenAddress = "127.0.0.1", StatePath = path };
        InvalidDataException fromCreate = Assert.Throws<InvalidDataException>(() => TincanNode.Create(options));
        Assert.Contains(path, fromCreate.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_state_path_defaults_to_the_key_file_and_is_absent_without_one()
    {
        Assert.Null(HandshakeTimestamps.ResolvePath(new TincanOptions()));
        Assert.Equal("/k/node.key.state", HandshakeTimestamps.ResolvePath(new TincanOptions { PrivateKeyPath = "/k/node.key" }));
        Assert.Equal("/s/x", HandshakeTimestamps.ResolvePath(new TincanOptions { PrivateKeyPath = "/k/node.key", StatePath = "/s/x" }));
    }

    private static byte[] Stamp(int seconds)
    {
        byte[] t = new byte[Tai64N.Length];
        Tai64N.Write(DateTimeOffset.UnixEpoch.AddSeconds(seconds), t);
        return t;
    }
}

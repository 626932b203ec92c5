namespace Ipop.Tincan.Tests.Lifetime;

/// <summary>
/// Issue 15: a key path whose directory does not exist is an error naming the key file and the directory, not a
/// directory created behind the caller's back (a mistyped path would give the node a new identity).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KeyDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-keydir-").FullName;

    [Fact]
    public void A_node_whose_key_directory_is_missing_does_not_start_and_nothing_is_created()
    {
        string missing = Path.Combine(_dir, "typo");
        string path = Path.Combine(missing, "node.key");

        var e = Assert.Throws<NodeKeyFileException>(() => TincanNode.Create(new TincanOptions { PrivateKeyPath = path }));

        Assert.Equal(
            $"Private key file '{path}' cannot be created: its directory '{missing}' does not exist. " +
            $"Create it, owned by the user running the node and readable only by it (e.g. 'install -d -m 700 {missing}'), or correct the path.",
            e.Message);
        Assert.False(Directory.Exists(missing));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public void Genkey_into_a_missing_directory_fails_the_same_way()
    {
        string path = Path.Combine(_dir, "a", "b", "node.key");
        var e = Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.EnsureCreated(path));
        Assert.Contains($"its directory '{Path.Combine(_dir, "a", "b")}' does not exist", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "a")));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

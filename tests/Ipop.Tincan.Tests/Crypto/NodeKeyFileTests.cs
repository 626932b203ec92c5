namespace Ipop.Tincan.Tests.Crypto;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class NodeKeyFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"ipop-key-{Environment.ProcessId}-{Guid.NewGuid():N}");

    [Fact]
    public void Created_key_file_has_mode_0600_and_reloads_to_the_same_key()
    {
        string path = Path.Combine(_dir, "sub", "node.key");
        NodePublicKey created = NodeKeyFile.EnsureCreated(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(created, NodeKeyFile.EnsureCreated(path));
        Assert.Equal(created, NodeKeyFile.ReadPublicKey(path));
        Assert.Equal(45, File.ReadAllText(path).Length);
    }

    [Fact]
    public void World_readable_key_file_is_refused_with_a_clear_message()
    {
        string path = Path.Combine(_dir, "node.key");
        NodeKeyFile.EnsureCreated(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = Assert.Throws<InvalidOperationException>(() => NodeKeyFile.ReadPublicKey(path));
        Assert.Contains("mode 0644", e.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Key_file_without_a_key_is_refused()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "bad.key");
        File.WriteAllText(path, "not a key\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var e = Assert.Throws<InvalidOperationException>(() => NodeKeyFile.ReadPublicKey(path));
        Assert.Contains("base64 X25519 private key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WireGuard_style_key_is_read()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "wg.key");

        // RFC 7748 section 6.1: Alice's private key and public key.
        File.WriteAllText(path, Convert.ToBase64String(Hex.Bytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")) + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Hex.Of(NodeKeyFile.ReadPublicKey(path).Bytes));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}

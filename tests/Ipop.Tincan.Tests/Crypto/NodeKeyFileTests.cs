namespace Ipop.Tincan.Tests.Crypto;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class NodeKeyFileTests : IDisposable
{
    // Created here: key files are created only in a directory that exists (see the missing-directory tests).
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-key-").FullName;

    [Fact]
    public void Created_key_file_has_mode_0600_and_reloads_to_the_same_key()
    {
        string path = Path.Combine(_dir, "node.key");
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
        var e = Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.ReadPublicKey(path));
        Assert.Contains("mode 0644", e.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("644")]
    [InlineData("640")]
    [InlineData("604")]
    [InlineData("660")]
    [InlineData("700")]
    [InlineData("4600")]
    public void Key_file_with_a_mode_other_than_0600_or_0400_is_refused_with_one_line(string mode)
    {
        string path = Path.Combine(_dir, "node.key");
        NodeKeyFile.EnsureCreated(path);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(mode, 8));
        var e = Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.ReadPublicKey(path));
        Assert.Equal(
            $"Private key file '{path}' has mode {mode.PadLeft(4, '0')}; it must be 0600 or 0400 (only its owner may read it): run 'chmod 600 {path}'.",
            e.Message);
        Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.EnsureCreated(path));
    }

    [Fact]
    public void Read_only_key_file_0400_is_accepted()
    {
        string path = Path.Combine(_dir, "node.key");
        NodePublicKey created = NodeKeyFile.EnsureCreated(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead);
        Assert.Equal(created, NodeKeyFile.ReadPublicKey(path));
    }

    [Fact]
    public void Symbolic_link_to_a_good_key_file_is_refused_and_not_followed()
    {
        string target = Path.Combine(_dir, "real.key");
        NodeKeyFile.EnsureCreated(target);
        string link = Path.Combine(_dir, "link.key");
        File.CreateSymbolicLink(link, target);
        var e = Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.ReadPublicKey(link));
        Assert.Contains($"'{link}' is a symbolic link", e.Message, StringComparison.Ordinal);

        // EnsureCreated must not treat the link as missing and write a key through it either.
        Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.EnsureCreated(link));
        Assert.True(File.ResolveLinkTarget(link, returnFinalTarget: false) is not null);
    }

    [Fact]
    public void Dangling_symbolic_link_is_refused_and_nothing_is_created_at_its_target()
    {
        Directory.CreateDirectory(_dir);
        string target = Path.Combine(_dir, "elsewhere.key");
        string link = Path.Combine(_dir, "link.key");
        File.CreateSymbolicLink(link, target);
        Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.EnsureCreated(link));
        Assert.False(File.Exists(target));
    }

    [Fact]
    public void Key_file_owned_by_another_user_is_refused_whatever_its_mode()
    {
        if (UnixFile.EffectiveUserId != 0)
        {
            Assert.Skip("changing a file's owner needs root");
        }

        string path = Path.Combine(_dir, "node.key");
        NodeKeyFile.EnsureCreated(path);
        ChangeOwner(path, 4242);
        var e = Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.ReadPublicKey(path));
        Assert.Equal($"Private key file '{path}' is owned by uid 4242, not by the user running the node (uid 0); run 'chown 0 {path}'.", e.Message);
    }

    [Fact]
    public void Creation_that_fails_before_the_key_gets_its_name_leaves_no_file_behind()
    {
        string path = Path.Combine(_dir, "node.key");
        string? temporary = null;
        Assert.Throws<IOException>(() => NodeKeyFile.LoadOrCreate(path, beforeLink: t =>
        {
            // The whole key is on disk under the temporary name, with mode 0600, and nothing at the real name yet.
            temporary = t;
            Assert.Equal(Path.GetDirectoryName(path), Path.GetDirectoryName(t));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(t));
            Assert.Equal(45, File.ReadAllText(t).Length);
            Assert.False(File.Exists(path));
            throw new IOException("disk full (simulated)");
        }));
        Assert.NotNull(temporary);
        Assert.False(File.Exists(temporary));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));

        // The next start creates it normally.
        Assert.Equal(NodeKeyFile.EnsureCreated(path), NodeKeyFile.ReadPublicKey(path));
    }

    [Fact]
    public void A_key_created_by_another_process_first_is_kept_not_overwritten()
    {
        string path = Path.Combine(_dir, "node.key");
        NodePublicKey? theirs = null;
        using Ipop.Tincan.Crypto.StaticKeyPair ours = NodeKeyFile.LoadOrCreate(path, beforeLink: _ =>
        {
            // Another node start wins the race to the name while ours is still a temporary file.
            if (theirs is null)
            {
                string other = Path.Combine(_dir, "other.key");
                theirs = NodeKeyFile.EnsureCreated(other);
                File.Move(other, path);
            }
        });
        Assert.Equal(theirs, ours.PublicKey);
        Assert.Equal(theirs, NodeKeyFile.ReadPublicKey(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    private static void ChangeOwner(string path, int uid)
    {
        using var p = System.Diagnostics.Process.Start("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path])!;
        p.WaitForExit(10_000);
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public void Key_file_without_a_key_is_refused()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "bad.key");
        File.WriteAllText(path, "not a key\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var e = Assert.Throws<NodeKeyFileException>(() => NodeKeyFile.ReadPublicKey(path));
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

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ipop.Tincan.Crypto;
using Microsoft.Win32.SafeHandles;

namespace Ipop.Tincan;

/// <summary>
/// The file that holds a node's static X25519 private key: one line of base64 (the format of <c>wg genkey</c>).
/// Anyone who reads it can impersonate the node, so on Linux it is opened without following a symbolic link and the
/// checks run on the opened descriptor itself (no window between check and read): it must be a regular file owned by
/// the running user with mode 0600 or 0400. A new file is created atomically: written and flushed under a temporary
/// name in the same directory (mode 0600 from the start), then linked to its name, so a crash leaves either no key
/// file or a whole one. The directory must exist already: a missing one is an error naming it, never created.
/// </summary>
public static class NodeKeyFile
{
    private const int OwnerReadWrite = 0x180; // 0600
    private const int OwnerRead = 0x100; // 0400

    /// <summary>Creates the key file if it does not exist, then returns the node's public key.</summary>
    /// <param name="path">Path of the private key file. Its directory must exist: it is not created.</param>
    /// <exception cref="NodeKeyFileException">The file is not safe to use (link, owner, mode), does not hold a key, or is missing and its directory does not exist.</exception>
    public static NodePublicKey EnsureCreated(string path)
    {
        using StaticKeyPair keys = LoadOrCreate(path);
        return keys.PublicKey;
    }

    /// <summary>Reads the node's public key from an existing private key file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NodeKeyFileException">The file is not safe to use (link, owner, mode) or does not hold a key.</exception>
    public static NodePublicKey ReadPublicKey(string path)
    {
        using StaticKeyPair keys = Load(path);
        return keys.PublicKey;
    }

    /// <param name="path">Path of the private key file.</param>
    /// <param name="beforeLink">Tests only: runs after the temporary file is written, before it gets its name.</param>
    internal static StaticKeyPair LoadOrCreate(string path, Action<string>? beforeLink = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        for (int attempt = 0; ; attempt++)
        {
            if (TryLoad(path) is { } existing)
            {
                return existing;
            }

            if (TryCreate(path, beforeLink) is { } created)
            {
                return created;
            }

            // Another process created it between our open and our link: read theirs.
            if (attempt > 0)
            {
                throw new NodeKeyFileException($"Private key file '{path}' appeared and vanished while it was being created; try again.");
            }
        }
    }

    internal static StaticKeyPair Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return TryLoad(path) ?? throw new FileNotFoundException($"Private key file '{path}' does not exist.", path);
    }

    /// <summary>Reads the key; null when the file does not exist.</summary>
    private static StaticKeyPair? TryLoad(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return File.Exists(path) ? Parse(path, File.ReadAllBytes(path)) : null;
        }

        using SafeFileHandle? handle = UnixFile.OpenNoFollow(path, out int errno);
        if (handle is null)
        {
            if (errno == UnixFile.ENOENT)
            {
                return null;
            }

            throw errno switch
            {
                UnixFile.ELOOP => new NodeKeyFileException($"Private key file '{path}' is a symbolic link; it is not followed (a link lets whoever can change it choose the key). Point the path at the file itself."),
                UnixFile.EACCES => new NodeKeyFileException($"Private key file '{path}' cannot be opened: permission denied (it must be readable by the user running the node)."),
                _ => new NodeKeyFileException($"Private key file '{path}' cannot be opened (errno {errno.ToString(CultureInfo.InvariantCulture)})."),
            };
        }

        (int mode, uint owner) = UnixFile.Describe(handle);
        if ((mode & UnixFile.S_IFMT) != UnixFile.S_IFREG)
        {
            throw new NodeKeyFileException($"Private key file '{path}' is not a regular file.");
        }

        uint me = UnixFile.EffectiveUserId;
        if (owner != me)
        {
            throw new NodeKeyFileException(
                $"Private key file '{path}' is owned by uid {owner.ToString(CultureInfo.InvariantCulture)}, not by the user running the node (uid {me.ToString(CultureInfo.InvariantCulture)}); " +
                $"run 'chown {me.ToString(CultureInfo.InvariantCulture)} {path}'.");
        }

        int permissions = mode & 0xFFF;
        if (permissions is not (OwnerReadWrite or OwnerRead))
        {
            throw new NodeKeyFileException(
                $"Private key file '{path}' has mode {Convert.ToString(permissions, 8).PadLeft(4, '0')}; it must be 0600 or 0400 (only its owner may read it): run 'chmod 600 {path}'.");
        }

        using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        byte[] text = new byte[256];
        int length = 0;
        int n;
        while (length < text.Length && (n = stream.Read(text, length, text.Length - length)) > 0)
        {
            length += n;
        }

        try
        {
            return Parse(path, text.AsSpan(0, length));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(text);
        }
    }

    private static StaticKeyPair Parse(string path, ReadOnlySpan<byte> text)
    {
        byte[] raw = new byte[34];
        try
        {
            string trimmed = Encoding.ASCII.GetString(text).Trim();
            if (!Convert.TryFromBase64String(trimmed, raw, out int written) || written != 32)
            {
                throw new NodeKeyFileException($"Private key file '{path}' does not hold a base64 X25519 private key (32 bytes); create one with 'ipop-tincan genkey --key {path}'.");
            }

            return StaticKeyPair.FromPrivateKey(raw.AsSpan(0, 32));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    /// <summary>Creates the file atomically; null when another process created it first.</summary>
    private static StaticKeyPair? TryCreate(string path, Action<string>? beforeLink)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(directory))
        {
            // Not created for the caller (issue 15): a mistyped path would silently give the node a new identity that
            // no peer has authorized, in a directory whose owner and mode nobody chose.
            throw new NodeKeyFileException(
                $"Private key file '{path}' cannot be created: its directory '{directory}' does not exist. " +
                $"Create it, owned by the user running the node and readable only by it (e.g. 'install -d -m 700 {directory}'), or correct the path.");
        }

        StaticKeyPair keys = StaticKeyPair.Generate();
        byte[] raw = new byte[32];
        byte[] line = [];
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.{SecureRandom.NextUInt32().ToString("x8", CultureInfo.InvariantCulture)}.tmp");
        bool linked = false;
        try
        {
            keys.ExportPrivateKey(raw);
            line = Encoding.ASCII.GetBytes(Convert.ToBase64String(raw) + "\n");
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                // 0600 from the start: there is no window in which the key is readable by others.
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(line);
                stream.Flush(flushToDisk: true);
            }

            beforeLink?.Invoke(temporary);

            try
            {
                // Without overwrite this is link + unlink on Linux: it never replaces a key another process just made.
                File.Move(temporary, full, overwrite: false);
                linked = true;
            }
            catch (IOException) when (File.Exists(full))
            {
                keys.Dispose();
                return null;
            }

            if (!OperatingSystem.IsWindows())
            {
                UnixFile.SyncDirectory(directory);
            }

            return keys;
        }
        catch
        {
            keys.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
            CryptographicOperations.ZeroMemory(line);
            if (!linked)
            {
                File.Delete(temporary);
            }
        }
    }
}

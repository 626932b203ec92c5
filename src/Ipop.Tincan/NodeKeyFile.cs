using System.Security.Cryptography;
using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan;

/// <summary>
/// The file that holds a node's static X25519 private key: one line of base64 (the format of <c>wg genkey</c>),
/// created with mode 0600. A key file that group or others can read is refused, because anyone who reads it
/// can impersonate the node.
/// </summary>
public static class NodeKeyFile
{
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates the key file if it does not exist, then returns the node's public key.</summary>
    /// <param name="path">Path of the private key file.</param>
    /// <exception cref="InvalidOperationException">The file is readable by group or others, or does not hold a key.</exception>
    public static NodePublicKey EnsureCreated(string path)
    {
        using StaticKeyPair keys = LoadOrCreate(path);
        return keys.PublicKey;
    }

    /// <summary>Reads the node's public key from an existing private key file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidOperationException">The file is readable by group or others, or does not hold a key.</exception>
    public static NodePublicKey ReadPublicKey(string path)
    {
        using StaticKeyPair keys = Load(path);
        return keys.PublicKey;
    }

    internal static StaticKeyPair LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (File.Exists(path))
        {
            return Load(path);
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        StaticKeyPair keys = StaticKeyPair.Generate();
        byte[] raw = new byte[32];
        try
        {
            keys.ExportPrivateKey(raw);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                // Created 0600 from the start: there is no window in which the key is world-readable.
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(path, options);
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(raw) + "\n"));
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
        }
    }

    internal static StaticKeyPair Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode = File.GetUnixFileMode(path);
            if ((mode & GroupOrOther) != 0)
            {
                throw new InvalidOperationException(
                    $"Private key file '{path}' is accessible by group or others (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); " +
                    $"restrict it with 'chmod 600 {path}'.");
            }
        }

        byte[] text = File.ReadAllBytes(path);
        byte[] raw = new byte[34];
        try
        {
            string trimmed = Encoding.ASCII.GetString(text).Trim();
            if (!Convert.TryFromBase64String(trimmed, raw, out int written) || written != 32)
            {
                throw new InvalidOperationException($"Private key file '{path}' does not hold a base64 X25519 private key (32 bytes).");
            }

            return StaticKeyPair.FromPrivateKey(raw.AsSpan(0, 32));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
            CryptographicOperations.ZeroMemory(text);
        }
    }
}

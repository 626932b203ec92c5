using System.Security.Cryptography;

namespace Ipop;

/// <summary>
/// A node's static X25519 public key (32 bytes). It identifies a node on every link it makes;
/// only keys that a controller authorized may complete a handshake.
/// </summary>
public readonly struct NodePublicKey : IEquatable<NodePublicKey>
{
    /// <summary>Length of an X25519 public key in bytes.</summary>
    public const int Length = 32;

    private readonly byte[]? _bytes;

    /// <summary>Creates a key from its 32 raw bytes (copied).</summary>
    /// <exception cref="ArgumentException">The span is not 32 bytes long.</exception>
    public NodePublicKey(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A node public key is {Length} bytes; got {bytes.Length}.", nameof(bytes));
        }

        _bytes = bytes.ToArray();
    }

    /// <summary>The raw key bytes (empty for the default value).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>True for <c>default(NodePublicKey)</c>, which holds no key.</summary>
    public bool IsEmpty => _bytes is null;

    /// <summary>Parses the standard base64 form produced by <see cref="ToString"/>.</summary>
    /// <exception cref="FormatException">The text is not base64 of exactly 32 bytes.</exception>
    public static NodePublicKey Parse(string base64)
    {
        ArgumentNullException.ThrowIfNull(base64);
        Span<byte> buffer = stackalloc byte[Length + 2];
        if (!Convert.TryFromBase64String(base64.Trim(), buffer, out int written) || written != Length)
        {
            throw new FormatException($"A node public key is base64 of {Length} bytes (44 characters); got '{Truncate(base64)}'.");
        }

        return new NodePublicKey(buffer[..Length]);
    }

    /// <summary>Tries to parse the base64 form.</summary>
    public static bool TryParse(string? base64, out NodePublicKey key)
    {
        key = default;
        if (base64 is null)
        {
            return false;
        }

        Span<byte> buffer = stackalloc byte[Length + 2];
        if (!Convert.TryFromBase64String(base64.Trim(), buffer, out int written) || written != Length)
        {
            return false;
        }

        key = new NodePublicKey(buffer[..Length]);
        return true;
    }

    /// <summary>Constant-time comparison of two keys.</summary>
    public bool Equals(NodePublicKey other) =>
        _bytes is null ? other._bytes is null
        : other._bytes is not null && CryptographicOperations.FixedTimeEquals(_bytes, other._bytes);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is NodePublicKey other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _bytes is null ? 0 : BitConverter.ToInt32(_bytes, 0);

    /// <summary>The key in standard base64 (44 characters), or an empty string for the default value.</summary>
    public override string ToString() => _bytes is null ? string.Empty : Convert.ToBase64String(_bytes);

    /// <summary>Equality.</summary>
    public static bool operator ==(NodePublicKey left, NodePublicKey right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(NodePublicKey left, NodePublicKey right) => !left.Equals(right);

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "...";
}

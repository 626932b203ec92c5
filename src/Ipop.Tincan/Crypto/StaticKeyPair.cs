using NSec.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>A node's static X25519 key pair. The private half stays in NSec's secure memory.</summary>
internal sealed class StaticKeyPair : IDisposable
{
    private StaticKeyPair(Key privateKey)
    {
        PrivateKey = privateKey;
        PublicKeyBytes = privateKey.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        PublicKey = new NodePublicKey(PublicKeyBytes);
    }

    /// <summary>The private key (export allowed only so <see cref="NodeKeyFile"/> can persist it).</summary>
    public Key PrivateKey { get; }

    /// <summary>The raw 32-byte public key.</summary>
    public byte[] PublicKeyBytes { get; }

    /// <summary>The public key as the contract type.</summary>
    public NodePublicKey PublicKey { get; }

    /// <summary>Creates a fresh random key pair.</summary>
    /// <remarks>From <see cref="SecureRandom"/>, not NSec's Key.Create, whose seed comes from OpenSSL (see <see cref="Sodium"/>).</remarks>
    public static StaticKeyPair Generate()
    {
        Span<byte> privateKey = stackalloc byte[32];
        SecureRandom.Fill(privateKey);
        try
        {
            return FromPrivateKey(privateKey);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    /// <summary>Imports a raw 32-byte X25519 private key.</summary>
    public static StaticKeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey) =>
        new(Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>Writes the raw private key into <paramref name="destination"/> (32 bytes).</summary>
    public void ExportPrivateKey(Span<byte> destination)
    {
        if (!PrivateKey.TryExport(KeyBlobFormat.RawPrivateKey, destination, out int written) || written != 32)
        {
            throw new InvalidOperationException("The private key could not be exported.");
        }
    }

    /// <summary>
    /// Computes the static-static X25519 secret with <paramref name="peer"/> into <paramref name="destination"/>
    /// (32 bytes). Only this node and that peer can compute it, so keys derived from it (with a label that separates
    /// their use) are per pair of nodes. Returns false for a key X25519 refuses (a low-order point).
    /// </summary>
    /// <remarks>Callers zero <paramref name="destination"/> when they are done with it.</remarks>
    public bool TryDeriveSharedSecret(NodePublicKey peer, Span<byte> destination)
    {
        if (destination.Length < 32)
        {
            throw new ArgumentException("The destination must hold 32 bytes.", nameof(destination));
        }

        if (!NSec.Cryptography.PublicKey.TryImport(KeyAgreementAlgorithm.X25519, peer.Bytes, KeyBlobFormat.RawPublicKey, out NSec.Cryptography.PublicKey? publicKey) || publicKey is null)
        {
            return false;
        }

        using SharedSecret? secret = KeyAgreementAlgorithm.X25519.Agree(PrivateKey, publicKey, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return secret is not null && secret.TryExport(SharedSecretBlobFormat.RawSharedSecret, destination, out int written) && written == 32;
    }

    /// <inheritdoc />
    public void Dispose() => PrivateKey.Dispose();
}

using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// The static-static X25519 secret (Noise's <c>ss</c>) with each authorized peer, computed once when the peer is
/// authorized (like wireguard-go's <c>precomputedStaticStatic</c>), so that reading a handshake initiation costs one
/// DH (<c>es</c>) instead of two. Thread-safe.
/// </summary>
internal sealed class PeerStaticSecrets
{
    private readonly StaticKeyPair _keys;
    private readonly ConcurrentDictionary<NodePublicKey, byte[]> _secrets = new();

    public PeerStaticSecrets(StaticKeyPair keys) => _keys = keys;

    /// <summary>Peers with a secret.</summary>
    public int Count => _secrets.Count;

    /// <summary>Computes and keeps the secret with <paramref name="peer"/>; false for a key X25519 refuses.</summary>
    public bool Add(NodePublicKey peer)
    {
        byte[] secret = new byte[NoiseIKHandshake.DhLength];
        try
        {
            if (!_keys.TryDeriveSharedSecret(peer, secret))
            {
                return false;
            }
        }
        catch (CryptographicException)
        {
            // libsodium refuses a low-order point: such a peer computes ss during the handshake, and fails there.
            return false;
        }

        _secrets[peer] = secret;
        return true;
    }

    /// <summary>Forgets (and zeroes) the secret with <paramref name="peer"/>.</summary>
    public void Remove(NodePublicKey peer)
    {
        if (_secrets.TryRemove(peer, out byte[]? secret))
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>Forgets (and zeroes) every secret: the node is shutting down.</summary>
    public void Clear()
    {
        foreach (NodePublicKey peer in _secrets.Keys)
        {
            Remove(peer);
        }
    }

    /// <summary>Copies the secret with the peer whose raw key is <paramref name="peer"/>; false when it is not authorized.</summary>
    public bool TryGet(ReadOnlySpan<byte> peer, Span<byte> destination)
    {
        if (peer.Length != NodePublicKey.Length || !_secrets.TryGetValue(new NodePublicKey(peer), out byte[]? secret))
        {
            return false;
        }

        secret.CopyTo(destination);
        return true;
    }
}

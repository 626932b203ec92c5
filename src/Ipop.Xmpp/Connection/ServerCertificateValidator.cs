using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ipop.Xmpp.Connection;

/// <summary>
/// Decides whether the server's TLS certificate is acceptable (RFC 6120 §13.7.2, RFC 6125): a pinned
/// SHA-256 fingerprint if configured; otherwise a chain to the configured CA file (custom root trust)
/// or the system store, with the host name checked against the JID's domain. There is no "accept all".
/// </summary>
internal sealed class ServerCertificateValidator
{
    private readonly byte[]? _pin;
    private readonly X509Certificate2Collection? _roots;

    public ServerCertificateValidator(string? trustedCaFile, string? pinnedSha256)
    {
        if (pinnedSha256 is not null)
        {
            _pin = XmppSignalingOptionsValidator.ParsePin(pinnedSha256)
                ?? throw new ArgumentException("PinnedCertificateSha256 must be 64 hex digits.", nameof(pinnedSha256));
        }
        else if (trustedCaFile is not null)
        {
            _roots = [];
            _roots.ImportFromPemFile(trustedCaFile);
            if (_roots.Count == 0)
            {
                throw new XmppSignalingException(XmppErrorKind.Tls, $"TrustedCaFile '{trustedCaFile}' holds no PEM certificate.");
            }
        }
    }

    /// <summary>The reason of the last rejection, for the error message.</summary>
    public string? LastFailure { get; private set; }

    public bool Validate(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            LastFailure = "the server sent no certificate";
            return false;
        }

        using var leaf = new X509Certificate2(certificate);
        if (_pin is not null)
        {
            byte[] actual = SHA256.HashData(leaf.RawData);
            bool match = CryptographicOperations.FixedTimeEquals(actual, _pin);
            LastFailure = match ? null : $"certificate SHA-256 {Convert.ToHexString(actual)} does not match the pinned fingerprint";
            return match;
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            LastFailure = $"certificate '{leaf.Subject}' is not valid for the server's domain";
            return false;
        }

        if (_roots is null)
        {
            LastFailure = errors == SslPolicyErrors.None ? null : $"certificate '{leaf.Subject}' is not trusted by the system store ({errors})";
            return errors == SslPolicyErrors.None;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        bool ok = chain.Build(leaf);
        LastFailure = ok ? null : $"certificate '{leaf.Subject}' does not chain to TrustedCaFile ({string.Join(", ", chain.ChainStatus.Select(s => s.Status))})";
        return ok;
    }
}

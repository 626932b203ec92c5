using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ipop.Lab.Servers;

/// <summary>A self-signed TLS server certificate made per test run; clients trust it as their CA file or pin it.</summary>
internal static class ServerCertificate
{
    /// <summary>
    /// Writes a self-signed RSA certificate for <paramref name="names"/> (the first is the CN; all are
    /// DNS SANs) and its PKCS#8 key as PEM; returns the certificate's SHA-256 (hex) for pinning.
    /// </summary>
    public static string Write(string certificatePath, string keyPath, params string[] names)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        return Convert.ToHexString(SHA256.HashData(certificate.RawData));
    }
}

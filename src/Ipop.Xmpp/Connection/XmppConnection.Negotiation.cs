using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Ipop.Xmpp.Sasl;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp.Connection;

/// <summary>
/// Session setup on a fresh connection, in the order RFC 6120 prescribes: stream header and features (§4.3),
/// STARTTLS (§5), SASL (§6: SCRAM-SHA-1/256, PLAIN only when allowed and under TLS), stream restarts between them,
/// resource binding (§7) and, for servers that still want it, the RFC 3921 §3 session. Everything here runs once,
/// before the connection is handed to its owner; the steady-state read/write path is in XmppConnection.cs.
/// </summary>
internal sealed partial class XmppConnection
{
    private async Task NegotiateAsync(string resource, CancellationToken cancellationToken)
    {
        XElement features = await RestartStreamAsync(cancellationToken);
        XElement? starttls = features.Element(XName.Get("starttls", XmppNamespaces.Tls));
        if (starttls is not null)
        {
            await SendRawAsync($"<starttls xmlns='{XmppNamespaces.Tls}'/>", cancellationToken);
            XElement answer = await ReadRequiredAsync();
            if (answer.Name != XName.Get("proceed", XmppNamespaces.Tls))
            {
                throw new XmppSignalingException(XmppErrorKind.Tls, $"Server refused STARTTLS with <{answer.Name.LocalName}/>.");
            }

            await UpgradeToTlsAsync(cancellationToken);
            features = await RestartStreamAsync(cancellationToken);
        }
        else if (_options.RequireTls)
        {
            throw new XmppSignalingException(XmppErrorKind.Tls, $"Server for '{Domain}' does not offer STARTTLS and RequireTls is set.");
        }

        await AuthenticateAsync(features, cancellationToken);
        features = await RestartStreamAsync(cancellationToken);
        if (features.Element(XName.Get("bind", XmppNamespaces.Bind)) is null)
        {
            throw new XmppSignalingException(XmppErrorKind.Protocol, "Server does not offer resource binding (RFC 6120 §7).");
        }

        XElement bound = await RequestDuringNegotiationAsync(StanzaBuilder.Bind("bind1", resource), cancellationToken);
        string? jidText = bound.Element(XName.Get("bind", XmppNamespaces.Bind))?.Element(XName.Get("jid", XmppNamespaces.Bind))?.Value;
        if (!Jid.TryParse(jidText, out Jid jid) || jid.IsBare)
        {
            throw new XmppSignalingException(XmppErrorKind.Protocol, $"Server bound an invalid JID '{jidText}'.");
        }

        BoundJid = jid;
        XElement? session = features.Element(XName.Get("session", XmppNamespaces.Session));
        if (session is not null && session.Element(XName.Get("optional", XmppNamespaces.Session)) is null)
        {
            await RequestDuringNegotiationAsync(StanzaBuilder.Session("sess1"), cancellationToken);
        }

        LogSessionUp(_logger, BoundJid.Full, Mechanism ?? "?", IsSecure);
    }

    private async Task<XElement> RestartStreamAsync(CancellationToken cancellationToken)
    {
        _reader?.Dispose();
        _reader = new XmppStreamReader(_pipeStream, _limits, _skipped is null ? null : _skipped.Report);
        await SendRawAsync(StanzaBuilder.StreamHeader(Domain), cancellationToken);
        await _reader.ReadHeaderAsync();
        XElement features = await ReadRequiredAsync();
        if (features.Name != XName.Get("features", XmppNamespaces.Streams))
        {
            throw new XmppSignalingException(XmppErrorKind.Protocol, $"Expected <stream:features>, got <{features.Name.LocalName}>.");
        }

        return features;
    }

    private async Task UpgradeToTlsAsync(CancellationToken cancellationToken)
    {
        var validator = new ServerCertificateValidator(_options.TrustedCaFile, _options.PinnedCertificateSha256);
        var ssl = new SslStream(_transport, leaveInnerStreamOpen: false, (_, certificate, _, errors) => validator.Validate(certificate, errors));
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = Domain,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            }, cancellationToken);
        }
        catch (AuthenticationException ex)
        {
            await ssl.DisposeAsync();
            throw new XmppSignalingException(XmppErrorKind.Tls, $"TLS with '{Domain}' failed: {validator.LastFailure ?? ex.Message}.", ex);
        }

        // The server sends nothing after <proceed/> until the TLS handshake, so the plain pipe holds no
        // buffered bytes we would lose by starting over on the TLS stream (RFC 6120 §5.4.3.3).
        await _pipeReader.CompleteAsync();
        _transport = ssl;
        _pipeReader = PipeReader.Create(ssl, new StreamPipeReaderOptions(bufferSize: 8192, leaveOpen: true));
        _pipeStream = _pipeReader.AsStream(leaveOpen: true);
        _writer = PipeWriter.Create(ssl, new StreamPipeWriterOptions(leaveOpen: true));
        IsSecure = true;
    }

    private async Task AuthenticateAsync(XElement features, CancellationToken cancellationToken)
    {
        var offered = (features.Element(XName.Get("mechanisms", XmppNamespaces.Sasl))?.Elements(XName.Get("mechanism", XmppNamespaces.Sasl)) ?? [])
            .Select(m => m.Value.Trim()).ToHashSet(StringComparer.Ordinal);
        Jid account = Jid.Parse(_options.Jid);
        string user = account.Local!;
        if (offered.Contains("SCRAM-SHA-256") || offered.Contains("SCRAM-SHA-1"))
        {
            var scram = new ScramClient(offered.Contains("SCRAM-SHA-256") ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1, user, _options.Password);
            Mechanism = scram.Mechanism;
            await SendRawAsync(StanzaBuilder.SaslAuth(scram.Mechanism, B64(scram.ClientFirst())), cancellationToken);
            XElement challenge = await ReadSaslStepAsync(account);
            if (challenge.Name.LocalName != "challenge")
            {
                throw new XmppSignalingException(XmppErrorKind.Authentication, $"SCRAM: expected <challenge/>, got <{challenge.Name.LocalName}/>.");
            }

            string final;
            try
            {
                final = scram.ClientFinal(Unb64(challenge.Value));
            }
            catch (SaslException ex)
            {
                await SendRawAsync($"<abort xmlns='{XmppNamespaces.Sasl}'/>", cancellationToken);
                throw new XmppSignalingException(XmppErrorKind.Authentication, ex.Message, ex);
            }

            await SendRawAsync(StanzaBuilder.SaslResponse(B64(final)), cancellationToken);
            XElement outcome = await ReadSaslStepAsync(account);
            if (outcome.Name.LocalName != "success")
            {
                throw new XmppSignalingException(XmppErrorKind.Authentication, $"SCRAM: expected <success/>, got <{outcome.Name.LocalName}/>.");
            }

            try
            {
                // RFC 6120 §6.3.10: additional data with success carries server-final-message.
                scram.VerifyServerFinal(Unb64(outcome.Value));
            }
            catch (SaslException ex)
            {
                throw new XmppSignalingException(XmppErrorKind.Authentication, ex.Message, ex);
            }

            return;
        }

        if (offered.Contains("PLAIN") && _options.AllowPlainAuth && IsSecure)
        {
            Mechanism = "PLAIN";
            await SendRawAsync(StanzaBuilder.SaslAuth("PLAIN", B64($"\0{user}\0{_options.Password}")), cancellationToken);
            XElement outcome = await ReadSaslStepAsync(account);
            if (outcome.Name.LocalName != "success")
            {
                throw new XmppSignalingException(XmppErrorKind.Authentication, $"PLAIN: expected <success/>, got <{outcome.Name.LocalName}/>.");
            }

            return;
        }

        throw new XmppSignalingException(XmppErrorKind.Authentication, $"No acceptable SASL mechanism: server offers [{string.Join(", ", offered.Order(StringComparer.Ordinal))}]; we support SCRAM-SHA-256, SCRAM-SHA-1{(_options.AllowPlainAuth ? " and PLAIN over TLS" : string.Empty)}.");
    }

    private async Task<XElement> ReadSaslStepAsync(Jid account)
    {
        XElement element = await ReadRequiredAsync();
        if (element.Name == XName.Get("failure", XmppNamespaces.Sasl))
        {
            string condition = element.Elements().FirstOrDefault(e => e.Name.LocalName != "text")?.Name.LocalName ?? "unknown";
            string? text = element.Element(XName.Get("text", XmppNamespaces.Sasl))?.Value;
            // RFC 6120 §6.5.12: temporary-auth-failure is the server's own trouble (e.g. its account store is down), worth another try.
            XmppErrorKind kind = condition == "temporary-auth-failure" ? XmppErrorKind.Network : XmppErrorKind.Authentication;
            throw new XmppSignalingException(kind, $"Server refused authentication of '{account.Bare}': {condition}{(string.IsNullOrEmpty(text) ? string.Empty : " (" + text + ")")}.");
        }

        if (element.Name.NamespaceName != XmppNamespaces.Sasl)
        {
            throw new XmppSignalingException(XmppErrorKind.Protocol, $"Unexpected <{element.Name.LocalName}/> during SASL.");
        }

        return element;
    }

    private async Task<XElement> RequestDuringNegotiationAsync(XElement iq, CancellationToken cancellationToken)
    {
        string id = (string)iq.Attribute("id")!;
        await SendAsync(iq, cancellationToken);
        for (int i = 0; i < 16; i++)
        {
            XElement reply = await ReadRequiredAsync();
            if (reply.Name.LocalName == "iq" && (string?)reply.Attribute("id") == id)
            {
                if ((string?)reply.Attribute("type") == "result")
                {
                    return reply;
                }

                throw new XmppSignalingException(XmppErrorKind.Protocol, $"Server answered <{iq.Elements().First().Name.LocalName}/> with an error: {StanzaReader.ErrorCondition(reply)}.");
            }
        }

        throw new XmppSignalingException(XmppErrorKind.Protocol, "Server did not answer during session setup.");
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string Unb64(string text)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(text.Trim()));
        }
        catch (FormatException ex)
        {
            throw new XmppSignalingException(XmppErrorKind.Authentication, "SASL data from the server is not base64.", ex);
        }
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "XMPP session up as {Jid} ({Mechanism}, TLS {Secure})")]
    private static partial void LogSessionUp(ILogger logger, string jid, string mechanism, bool secure);
}

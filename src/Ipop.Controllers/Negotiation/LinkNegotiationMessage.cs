using System.Collections.Immutable;
using System.Net.NetworkInformation;
using System.Text.Json;

namespace Ipop.Controllers.Negotiation;

/// <summary>
/// What controllers exchange over signaling to set up a link: the sender's link descriptor and the
/// virtual addresses (and, in switch mode, MAC) it claims. Carried as the body of an
/// <see cref="OverlayMessage"/> of kind <see cref="OfferKind"/>, <see cref="AnswerKind"/> or <see cref="AddressKind"/>.
/// </summary>
internal sealed record LinkNegotiationMessage(LinkDescriptor? Descriptor, ImmutableArray<InterfaceAddress> Addresses, PhysicalAddress? Mac)
{
    /// <summary>SocialVPN: the address the sender gave the receiver in the sender's own view (so the receiver can translate).</summary>
    public InterfaceAddress? Assigned { get; init; }

    /// <summary>
    /// Names one negotiation exchange: the initiator puts a fresh value in each offer and the answer echoes it,
    /// so an answer is accepted only for the offer we are waiting on, and a duplicated or late copy of either
    /// is recognised instead of creating the link again.
    /// </summary>
    public string? Nonce { get; init; }

    /// <summary>Switch mode: the sender's TAP is on a bridge, so frames from stations other than <see cref="Mac"/> come through it.</summary>
    public bool Bridge { get; init; }

    /// <summary>Longest accepted <see cref="Nonce"/>.</summary>
    public const int MaxNonceLength = 32;

    /// <summary>The initiator's offer: "here is how to reach me; link to me".</summary>
    public const string OfferKind = "ipop-link-offer";

    /// <summary>The responder's answer carrying its own descriptor.</summary>
    public const string AnswerKind = "ipop-link-answer";

    /// <summary>The non-initiator asks the initiator for a fresh offer (after a failure or restart).</summary>
    public const string RequestKind = "ipop-link-request";

    /// <summary>
    /// The sender no longer wants the link it started (<see cref="ILinkPolicy.WantsLink"/> turned false) and has removed
    /// its end; the receiver removes its end too and starts a link of its own if it wants one. Carries the nonce of the
    /// exchange that made the link, so a stale copy does not end a newer link.
    /// </summary>
    public const string ReleaseKind = "ipop-link-release";

    /// <summary>The sender's virtual addresses changed (conflict resolution).</summary>
    public const string AddressKind = "ipop-address";

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("v", 1);
            if (Descriptor is not null)
            {
                w.WritePropertyName("descriptor");
                using JsonDocument d = JsonDocument.Parse(Descriptor.ToJson());
                d.RootElement.WriteTo(w);
            }

            w.WriteStartArray("addresses");
            foreach (InterfaceAddress a in Addresses)
            {
                w.WriteStringValue(a.ToString());
            }

            w.WriteEndArray();
            if (Assigned is { } assigned)
            {
                w.WriteString("assigned", assigned.ToString());
            }

            if (Nonce is not null)
            {
                w.WriteString("nonce", Nonce);
            }

            if (Bridge)
            {
                w.WriteBoolean("bridge", true);
            }

            if (Mac is not null)
            {
                w.WriteString("mac", MacText.Format(Mac));
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <exception cref="FormatException">The body is not a valid negotiation message; the message names the field.</exception>
    public static LinkNegotiationMessage Parse(string body)
    {
        try
        {
            return ParseText(body);
        }
        catch (InvalidOperationException e)
        {
            // JsonElement.GetString throws this for an escaped lone surrogate ("\ud800"): valid JSON, not text. Found by
            // fuzzing (fuzz/corpus/link-negotiation/crash-lone-surrogate); every caller expects FormatException.
            throw new FormatException("negotiation message: a string is not valid text (an escaped lone UTF-16 surrogate).", e);
        }
    }

    private static LinkNegotiationMessage ParseText(string body)
    {
        if (body.Length > OverlayMessage.MaxBodyLength)
        {
            throw new FormatException($"negotiation message is {body.Length} characters; at most {OverlayMessage.MaxBodyLength}.");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 10 });
        }
        catch (JsonException e)
        {
            throw new FormatException($"negotiation message is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("v", out JsonElement v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version) || version != 1)
            {
                throw new FormatException("negotiation message field 'v': expected 1.");
            }

            LinkDescriptor? descriptor = root.TryGetProperty("descriptor", out JsonElement d) ? LinkDescriptor.Parse(d.GetRawText()) : null;
            if (descriptor is { IsStatic: true })
            {
                // Without check credentials a link handshakes on every candidate unchecked: fine for a peer the user
                // configured, not for addresses a remote peer chose (that would make this node send to any target).
                throw new FormatException("negotiation message field 'descriptor': no check credentials ('ufrag'/'pwd' empty); static descriptors are only for configured peers.");
            }

            var addresses = ImmutableArray.CreateBuilder<InterfaceAddress>();
            if (root.TryGetProperty("addresses", out JsonElement list))
            {
                if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() > 8)
                {
                    throw new FormatException("negotiation message field 'addresses': expected an array of at most 8 addresses.");
                }

                foreach (JsonElement a in list.EnumerateArray())
                {
                    if (a.ValueKind != JsonValueKind.String || !InterfaceAddress.TryParse(a.GetString(), out InterfaceAddress parsed))
                    {
                        throw new FormatException($"negotiation message field 'addresses': '{a}' is not an address with prefix.");
                    }

                    addresses.Add(parsed);
                }
            }

            PhysicalAddress? mac = null;
            if (root.TryGetProperty("mac", out JsonElement m))
            {
                if (m.ValueKind != JsonValueKind.String || !PhysicalAddress.TryParse(m.GetString(), out mac) || mac.GetAddressBytes().Length != 6)
                {
                    throw new FormatException("negotiation message field 'mac': expected a 6-byte MAC address.");
                }
            }

            InterfaceAddress? assigned = null;
            if (root.TryGetProperty("assigned", out JsonElement asg))
            {
                if (asg.ValueKind != JsonValueKind.String || !InterfaceAddress.TryParse(asg.GetString(), out InterfaceAddress parsedAssigned))
                {
                    throw new FormatException("negotiation message field 'assigned': expected an address with prefix.");
                }

                assigned = parsedAssigned;
            }

            string? nonce = null;
            if (root.TryGetProperty("nonce", out JsonElement n))
            {
                nonce = n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                if (nonce is null || nonce.Length is 0 or > MaxNonceLength || !nonce.All(char.IsAsciiHexDigitLower))
                {
                    throw new FormatException($"negotiation message field 'nonce': expected 1..{MaxNonceLength} lowercase hex digits.");
                }
            }

            bool bridge = false;
            if (root.TryGetProperty("bridge", out JsonElement b))
            {
                if (b.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw new FormatException("negotiation message field 'bridge': expected true or false.");
                }

                bridge = b.GetBoolean();
            }

            return new LinkNegotiationMessage(descriptor, addresses.ToImmutable(), mac) { Assigned = assigned, Nonce = nonce, Bridge = bridge };
        }
    }
}

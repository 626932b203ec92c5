using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Ipop.Tincan.Api.Internal;

/// <summary>A request id as the client sent it: an integer, a string, or absent (answered with <c>null</c>).</summary>
internal readonly record struct RequestId(long? Number, string? Text)
{
    public static RequestId None => default;

    public void WriteTo(Utf8JsonWriter writer)
    {
        if (Number is long n)
        {
            writer.WriteNumber("id", n);
        }
        else if (Text is not null)
        {
            writer.WriteString("id", Text);
        }
        else
        {
            writer.WriteNull("id");
        }
    }
}

/// <summary>Writes the three message kinds of protocol version 1 as one UTF-8 JSON line each.</summary>
internal static class Wire
{
    public const int ProtocolVersion = 1;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = ApiJsonContext.Wire.Options.Encoder, SkipValidation = false };

    public static byte[] Response(RequestId id, object result, JsonTypeInfo typeInfo) => Write(writer =>
    {
        writer.WriteNumber("v", ProtocolVersion);
        id.WriteTo(writer);
        writer.WriteBoolean("ok", true);
        writer.WritePropertyName("result");
        JsonSerializer.Serialize(writer, result, typeInfo);
    });

    public static byte[] Error(RequestId id, string code, string message) => Write(writer =>
    {
        writer.WriteNumber("v", ProtocolVersion);
        id.WriteTo(writer);
        writer.WriteBoolean("ok", false);
        writer.WritePropertyName("error");
        JsonSerializer.Serialize(writer, new ErrorInfo(code, message), ApiJsonContext.Wire.ErrorInfo);
    });

    public static byte[] Event<T>(string kind, T data, JsonTypeInfo<T> typeInfo) => Write(writer =>
    {
        writer.WriteNumber("v", ProtocolVersion);
        writer.WriteString("event", kind);
        writer.WritePropertyName("data");
        JsonSerializer.Serialize(writer, data, typeInfo);
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}

using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Ipop.Samples.Hosting;

/// <summary>
/// Reads a JSON config file and checks its keys against the options types before anything is bound, so every error
/// names the key path as the user wrote it (<c>Interface:Nmae</c>, <c>Peers:0:AllowedIps</c>) and what was expected,
/// instead of the binder's messages about internal types. Shared by <c>ipop-tincan</c> (linked source) and the sample
/// hosts.
/// </summary>
internal static class StrictConfiguration
{
    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Loads <paramref name="file"/>; on a JSON syntax error returns null and a message with the line and position.</summary>
    public static IConfigurationRoot? TryLoad(FileInfo file, out string? error)
    {
        error = null;
        if (!file.Exists)
        {
            error = $"configuration file '{file.FullName}' does not exist.";
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{file.Name}: cannot read the file: {e.Message}";
            return null;
        }

        // The configuration provider reports only "Could not parse the JSON file"; parsing here first gets the position.
        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes, JsonOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = $"{file.Name}: the file must hold one JSON object ({{ ... }}), got a {document.RootElement.ValueKind.ToString().ToLowerInvariant()}.";
                return null;
            }
        }
        catch (JsonException e)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"{file.Name}: line {(e.LineNumber ?? 0) + 1}, position {(e.BytePositionInLine ?? 0) + 1}: invalid JSON: {WithoutPosition(e.Message)}");
            return null;
        }

        try
        {
            return new ConfigurationBuilder().AddJsonStream(new MemoryStream(bytes)).Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            // Valid JSON the provider still refuses: a key that appears twice with different case.
            error = $"{file.Name}: {e.Message}";
            return null;
        }
    }

    /// <summary>
    /// Checks every key under <paramref name="section"/> against the public properties of <paramref name="schema"/>'s
    /// root type (names match case-insensitively, as the binder does) and every value against the property's type.
    /// </summary>
    public static void Check(IConfigurationSection section, ConfigSchema schema, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(errors);
        if (section.Value is { } value && !section.GetChildren().Any())
        {
            errors.Add($"{section.Path} must be an object with keys {KnownKeys(schema, schema.Root)}, got '{value}'.");
            return;
        }

        CheckObject(schema, section, section.Path, schema.Root, errors);
    }

    /// <summary>Checks a whole file against <paramref name="schema"/>, whose root type its top level binds to.</summary>
    public static void CheckRoot(IConfiguration root, ConfigSchema schema, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(errors);
        CheckObject(schema, root, "the file", schema.Root, errors);
    }

    private static void CheckObject(ConfigSchema schema, IConfiguration section, string owner, Type type, List<string> errors)
    {
        Dictionary<string, PropertyInfo> properties = schema.Properties(type);
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out PropertyInfo? property))
            {
                errors.Add($"{child.Path} is not a known key; {owner} takes {KnownKeys(schema, type)}.");
                continue;
            }

            CheckValue(schema, child, property.PropertyType, errors);
        }
    }

    private static void CheckValue(ConfigSchema schema, IConfigurationSection section, Type type, List<string> errors)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        bool hasChildren = section.GetChildren().Any();
        if (IsScalar(type))
        {
            if (hasChildren)
            {
                errors.Add($"{section.Path} must be {Describe(schema, type)}, got an object or a list.");
                return;
            }

            if (section.Value is { Length: > 0 } text && !TryConvert(text, type))
            {
                errors.Add($"{section.Path} must be {Describe(schema, type)}, got '{text}'.");
            }

            return;
        }

        if (ConfigSchema.ElementType(type) is { } element)
        {
            if (!hasChildren)
            {
                if (section.Value is { Length: > 0 } text)
                {
                    errors.Add($"{section.Path} must be a JSON list [ ... ] (items: {Describe(schema, element)}), got the single value '{text}'.");
                }

                return;
            }

            foreach (IConfigurationSection item in section.GetChildren())
            {
                if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"{section.Path} must be a JSON list [ ... ] (items: {Describe(schema, element)}), got an object with key '{item.Key}'.");
                    return;
                }

                CheckValue(schema, item, element, errors);
            }

            return;
        }

        if (ConfigSchema.DictionaryValueType(type) is { } valueType)
        {
            foreach (IConfigurationSection item in section.GetChildren())
            {
                CheckValue(schema, item, valueType, errors);
            }

            return;
        }

        if (!hasChildren)
        {
            if (section.Value is { Length: > 0 } text)
            {
                errors.Add($"{section.Path} must be an object with keys {KnownKeys(schema, type)}, got '{text}'.");
            }

            return;
        }

        CheckObject(schema, section, section.Path, type, errors);
    }

    // The scalar types the options use, parsed as the configuration binder's source generator parses them (invariant
    // culture). Explicit instead of TypeDescriptor.GetConverter, which needs the trimmer to keep every converter.
    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) ||
        type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid) || type == typeof(Uri) || type == typeof(Version);

    private static bool TryConvert(string text, Type type)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        return type switch
        {
            _ when type == typeof(string) => true,
            _ when type.IsEnum => Enum.TryParse(type, text, ignoreCase: true, out _),
            _ when type == typeof(bool) => bool.TryParse(text, out _),
            _ when type == typeof(int) => int.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(long) => long.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(short) => short.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(byte) => byte.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(sbyte) => sbyte.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(uint) => uint.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(ulong) => ulong.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(ushort) => ushort.TryParse(text, NumberStyles.Integer, c, out _),
            _ when type == typeof(char) => text.Length == 1,
            _ when type == typeof(double) => double.TryParse(text, NumberStyles.Float | NumberStyles.AllowThousands, c, out _),
            _ when type == typeof(float) => float.TryParse(text, NumberStyles.Float | NumberStyles.AllowThousands, c, out _),
            _ when type == typeof(decimal) => decimal.TryParse(text, NumberStyles.Number, c, out _),
            _ when type == typeof(TimeSpan) => TimeSpan.TryParse(text, c, out _),
            _ when type == typeof(DateTimeOffset) => DateTimeOffset.TryParse(text, c, DateTimeStyles.None, out _),
            _ when type == typeof(DateTime) => DateTime.TryParse(text, c, DateTimeStyles.None, out _),
            _ when type == typeof(Guid) => Guid.TryParse(text, out _),
            _ when type == typeof(Uri) => Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out _),
            _ when type == typeof(Version) => Version.TryParse(text, out _),
            _ => false,
        };
    }

    private static string Describe(ConfigSchema schema, Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return "a string";
        }

        if (type == typeof(int) || type == typeof(long) || type == typeof(short))
        {
            return "a whole number";
        }

        if (type == typeof(bool))
        {
            return "true or false";
        }

        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return "a number";
        }

        if (type == typeof(TimeSpan))
        {
            return "a duration such as 00:00:05 (hh:mm:ss)";
        }

        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type));
        }

        return IsScalar(type) ? $"a {type.Name} value" : $"an object with keys {KnownKeys(schema, type)}";
    }

    private static string KnownKeys(ConfigSchema schema, Type type) => string.Join(", ", schema.Properties(type).Keys);

    private static string WithoutPosition(string message)
    {
        // "... Path: $.Peers[0] | LineNumber: 3 | BytePositionInLine: 0." — the position is already in front.
        foreach (string marker in (string[])[" Path: ", " LineNumber: "])
        {
            int cut = message.IndexOf(marker, StringComparison.Ordinal);
            if (cut > 0)
            {
                message = message[..cut];
            }
        }

        return message.TrimEnd();
    }
}

"""Print the schema's SDL: `python -m app.graphql.export > schema/schema.graphql`."""

from strawberry.printer import print_schema

from app.graphql.schema import schema


def sdl() -> str:
    return print_schema(schema) + "\n"


def main() -> None:
    print(sdl(), end="")


if __name__ == "__main__":
    main()

__all__ = ["exported"]

from ... import pkg as itself
from .. import shapes
from ..shapes import *
import os.path as osp, sys
import xml.etree.ElementTree


def exported(): ...


def _hidden(): ...


résumé = "x"


class Ünïcode:
    def méthode(self): ...
